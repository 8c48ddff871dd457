/* Shared between the controller's files; not part of the API. */
#ifndef VLA_INTERNAL_H
#define VLA_INTERNAL_H

#include "vla_controller.h"
#include "vla_text.h"

/* The refusal rules of §3 for one COMMAND: 0 when it may be applied (*target then points at the joint targets
 * to apply, n_joints of them), else the LOG code with the reason written to why. */
uint16_t vla_check_command(vla_controller *c, const vla_command *cmd, vla_text *why, const float **target);
/* The HELLO_ACK that announces cfg. */
void vla_hello_ack_of(const vla_config *cfg, vla_hello_ack *m);
/* Names of the faults set in bits, joined by '|' (WATCHDOG|TORQUE_OFF). */
void vla_text_faults(vla_text *t, uint16_t bits);

#endif
