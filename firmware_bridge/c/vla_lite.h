/* vla-lite arm protocol 1.0, controller side: the one header a firmware includes.
 *
 *   vla_framing.h     CRC-32C, COBS, the streaming frame writer, little-endian helpers
 *   vla_protocol.h    message structs, vla_decode, vla_encode_*
 *   vla_parser.h      vla_parser_feed_byte: bytes in, messages out (ISR-safe, counted drops)
 *   vla_controller.h  the §3 state machine: handshake, refusals, watchdog, ESTOP, TORQUE, hooks to the joints
 *
 * See README.md in this folder for how to port it. */
#ifndef VLA_LITE_H
#define VLA_LITE_H

#include <stddef.h> /* the C library's own headers first, outside extern "C" */
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "vla_controller.h"
#include "vla_framing.h"
#include "vla_parser.h"
#include "vla_protocol.h"

#ifdef __cplusplus
}
#endif

#endif
