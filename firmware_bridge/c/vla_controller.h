/* The controller side of PROTOCOL.md §3 as pure logic: messages in, frames out, time passed in.
 *
 * The firmware owns the UART, the clock and the joints. It feeds received bytes to a vla_parser, hands each
 * complete message to vla_controller_handle(), and calls vla_controller_tick() from its main loop (every
 * millisecond or so) so the watchdog trips on silence. The controller never reads a clock and never touches
 * hardware: it calls the hooks below. Time is microseconds of a monotonic clock, 64-bit (see vla_time_extend
 * for a wrapping 32-bit micros()). No heap, no stdio; one controller belongs to one context (do not call it
 * from an interrupt and the main loop at once). */
#ifndef VLA_CONTROLLER_H
#define VLA_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "vla_parser.h"
#include "vla_protocol.h"

/* What the controller needs from the firmware. ctx is passed back unchanged. */
typedef struct {
    void *ctx;
    /* Required. Queue bytes (whole frames) for the UART; called once per frame sent. */
    void (*write)(void *ctx, const uint8_t *bytes, size_t len);
    /* Required. Measured joint state now: n values each, rad or m, rad/s or m/s, N·m or N. */
    void (*read_joints)(void *ctx, float *position, float *velocity, float *effort, uint8_t n);
    /* Track these positions within vel_max and acc_max (JOINT_POSITION, and EE_DELTA after conversion). */
    void (*position_target)(void *ctx, const float *position, uint8_t n);
    /* Track these velocities within acc_max, braking in time to stop at the position limits. */
    void (*velocity_target)(void *ctx, const float *velocity, uint8_t n);
    /* No valid command: decelerate at acc_max to standstill, then hold position. */
    void (*hold)(void *ctx);
    /* on = 0: torque off at once (limp). on = 1: torque on, holding the measured position. */
    void (*torque)(void *ctx, int on);
    /* Optional (NULL: EE_DELTA is not offered). Joint position targets for an end-effector delta of n_delta
     * (4 or 7) values from the measured positions; return 0, or non-zero with *why set to a static reason. */
    int (*ee_delta)(void *ctx, const float *position, const float *delta, uint8_t n_delta, float *joint_target,
                    const char **why);
} vla_hooks;

typedef struct {
    vla_str name;                 /* controller model, UTF-8, at most 64 bytes */
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t modes;                /* VLA_MODE_BIT() of the modes offered; EE_DELTA needs hooks.ee_delta */
    float max_rate_hz;            /* fastest COMMAND rate announced */
    uint16_t watchdog_ms;         /* 1..65535: hold and latch WATCHDOG after this silence */
    uint16_t torque_off_ms;       /* 0: never; else torque off and latch TORQUE_OFF after this silence */
    uint8_t n_joints;             /* 1..VLA_MAX_JOINTS */
    const vla_joint_info *joints; /* n_joints entries with pos_min < pos_max, vel_max, acc_max > 0 */
    float moving_speed;           /* STATUS MOVING when some |velocity| exceeds this (0: any non-zero) */
} vla_config;

typedef struct {
    /* read-only for the firmware */
    const vla_config *cfg;
    vla_hooks hooks;
    uint16_t faults;            /* latched enum vla_fault bits */
    uint8_t torque_on;
    uint8_t linked;             /* a HELLO of our major and schema came last */
    uint8_t armed;              /* watchdog armed: a COMMAND or HEARTBEAT since that HELLO */
    uint8_t rejected;           /* the last COMMAND was refused */
    uint8_t mode;               /* what the joints were last told: 0 hold, else the vla_mode in force */
    uint32_t ack_seq;           /* seq of the last COMMAND processed */
    uint32_t tx_seq;            /* seq of the last frame sent */
    uint32_t commands_received, commands_rejected, frames_sent;
    uint32_t encode_failures;   /* frames that could not be encoded (a bad config string): should stay 0 */
    /* internal */
    uint64_t t0_us, now_us, last_feed_us, expiry_us;
    uint8_t expires;            /* the command in force has a valid_ms deadline (expiry_us) */
    float scratch[VLA_MAX_JOINTS]; /* EE_DELTA joint targets */
    vla_state state;            /* STATE being built */
    uint8_t tx[VLA_MAX_WIRE];   /* frame being sent */
} vla_controller;

/* Checks cfg (kept by pointer: it must outlive the controller) and hooks, then starts with torque on, holding
 * (calls hooks.torque(1) and hooks.hold()), no faults, no host. Returns 0, or -1 with a reason naming the bad
 * value in why (why_cap bytes; may be NULL). */
int vla_controller_init(vla_controller *c, const vla_config *cfg, const vla_hooks *hooks, uint64_t now_us,
                        char *why, size_t why_cap);
/* Act on one parsed frame (parser result VLA_PARSE_MESSAGE or VLA_PARSE_FOREIGN) received at now_us: first the
 * events due before it (as tick), then the reply of §3. */
void vla_controller_handle(vla_controller *c, vla_parse_result kind, const vla_header *hdr, const vla_msg *msg,
                           uint64_t now_us);
/* Convenience: feed one received byte to parser p and handle what completes. */
void vla_controller_feed_byte(vla_controller *c, vla_parser *p, uint8_t byte, uint64_t now_us);
/* Command expiry, watchdog and torque-off deadlines up to now_us; sends LOG + STATE for a fault that trips. */
void vla_controller_tick(vla_controller *c, uint64_t now_us);
/* An unprompted STATE (streaming at the firmware's own rate; hosts accept them at any time). */
void vla_controller_send_state(vla_controller *c, uint64_t now_us);
/* The firmware's own fault (e.g. VLA_FAULT_HARDWARE: over-temperature, encoder loss): latch it, hold, and send
 * STATE. Only the host's CLEAR_FAULT clears it. */
void vla_controller_latch_fault(vla_controller *c, uint16_t fault_bits, uint64_t now_us);
/* A wrapping 32-bit microsecond counter (e.g. Arduino micros()) extended to 64 bits; call at least once per
 * wrap (71 minutes). *state starts at 0. */
uint64_t vla_time_extend(uint64_t *state, uint32_t now32_us);

#endif
