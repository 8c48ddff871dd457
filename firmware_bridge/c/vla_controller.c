/* PROTOCOL.md §3, the controller side. Where §3 is silent this follows firmware_bridge/virtual_arm.py (the safe
 * side; README.md lists the choices). The refusal rules are in vla_refusal.c, init in vla_config.c. */
#include "vla_controller.h"

#include "vla_internal.h"
#include "vla_text.h"

#define HOLD 0u /* c->mode when no command is in force */
#define EV_NONE 0
#define EV_EXPIRY 1
#define EV_WATCHDOG 2
#define EV_TORQUE_OFF 3

typedef struct {
    char buf[VLA_MAX_STR + 1u];
    vla_text t;
} log_text;

static vla_text *text(log_text *l) {
    vla_text_init(&l->t, l->buf, sizeof l->buf);
    return &l->t;
}

static uint64_t ms_to_us(uint16_t ms) { return (uint64_t)ms * 1000u; }

static void send(vla_controller *c, size_t n) {
    if (n == 0) {
        c->encode_failures++;
        return;
    }
    c->frames_sent++;
    c->hooks.write(c->hooks.ctx, c->tx, n);
}

static void send_state(vla_controller *c) {
    vla_state *s = &c->state;
    uint16_t status = 0;
    uint8_t i, n = c->cfg->n_joints;
    float v_min = c->cfg->moving_speed;
    c->hooks.read_joints(c->hooks.ctx, s->position, s->velocity, s->effort, n);
    s->n = n;
    s->ack_seq = c->ack_seq;
    s->time_us = c->now_us - c->t0_us;
    s->faults = c->faults;
    if (c->torque_on) status |= VLA_STATUS_ENABLED;
    if (c->mode == HOLD) status |= VLA_STATUS_HOLDING;
    for (i = 0; i < n; i++) {
        if (s->velocity[i] > v_min || s->velocity[i] < -v_min) status |= VLA_STATUS_MOVING;
    }
    if (c->faults) status |= VLA_STATUS_FAULTED;
    if (c->faults & VLA_FAULT_ESTOP) status |= VLA_STATUS_ESTOP;
    if (c->rejected) status |= VLA_STATUS_REJECTED;
    if (c->linked) status |= VLA_STATUS_LINKED;
    s->status = status;
    send(c, vla_encode_state(c->tx, sizeof c->tx, ++c->tx_seq, s));
}

static void send_log(vla_controller *c, uint8_t level, uint16_t code, vla_text *t) {
    vla_log m;
    m.level = level;
    m.code = code;
    m.text.len = (uint8_t)vla_text_end(t); /* the buffer holds at most VLA_MAX_STR bytes */
    m.text.data = (const uint8_t *)t->buf;
    send(c, vla_encode_log(c->tx, sizeof c->tx, ++c->tx_seq, &m));
}

static void send_hello_ack(vla_controller *c) {
    vla_hello_ack m;
    vla_hello_ack_of(c->cfg, &m);
    send(c, vla_encode_hello_ack(c->tx, sizeof c->tx, ++c->tx_seq, &m));
}

/* --- what the joints are told ----------------------------------------------------------------------------------- */

static void hold(vla_controller *c) {
    c->mode = HOLD;
    c->expires = 0;
    if (c->torque_on) c->hooks.hold(c->hooks.ctx); /* a limp arm stays limp: hold never turns torque on */
}

static void limp(vla_controller *c) {
    c->torque_on = 0;
    c->mode = HOLD;
    c->expires = 0;
    c->hooks.torque(c->hooks.ctx, 0);
}

static void torque_on(vla_controller *c) {
    c->torque_on = 1;
    c->hooks.torque(c->hooks.ctx, 1);
    hold(c); /* holding the measured position until the next COMMAND */
}

/* A COMMAND or HEARTBEAT of the linked host: arms the watchdog and restarts its silence window. */
static void feed(vla_controller *c) {
    if (c->linked) {
        c->armed = 1;
        c->last_feed_us = c->now_us;
    }
}

/* --- time ------------------------------------------------------------------------------------------------------- */

/* Acts on each deadline up to now in time order (ties: expiry, watchdog, torque off, as virtual_arm.py). */
static void advance(vla_controller *c, uint64_t now_us) {
    if (now_us > c->now_us) c->now_us = now_us; /* time never runs backwards here */
    for (;;) {
        const vla_config *cfg = c->cfg;
        uint64_t t_event = 0, t;
        int event = EV_NONE;
        log_text l;
        if (c->mode != HOLD && c->expires) {
            t_event = c->expiry_us;
            event = EV_EXPIRY;
        }
        if (c->armed && !(c->faults & VLA_FAULT_WATCHDOG)) {
            t = c->last_feed_us + ms_to_us(cfg->watchdog_ms);
            if (event == EV_NONE || t < t_event) {
                t_event = t;
                event = EV_WATCHDOG;
            }
        }
        if (c->armed && cfg->torque_off_ms && !(c->faults & VLA_FAULT_TORQUE_OFF)) {
            t = c->last_feed_us + ms_to_us(cfg->torque_off_ms);
            if (event == EV_NONE || t < t_event) {
                t_event = t;
                event = EV_TORQUE_OFF;
            }
        }
        if (event == EV_NONE || t_event > c->now_us) return;
        if (event == EV_EXPIRY) {
            hold(c); /* a velocity command decelerates to zero */
            continue;
        }
        vla_text_str(text(&l), "no COMMAND/HEARTBEAT for ");
        if (event == EV_WATCHDOG) {
            c->faults |= VLA_FAULT_WATCHDOG;
            hold(c);
            vla_text_u32(&l.t, cfg->watchdog_ms);
            vla_text_str(&l.t, " ms: holding");
            send_log(c, VLA_LEVEL_ERROR, VLA_LOG_WATCHDOG_TRIPPED, &l.t);
        } else {
            c->faults |= VLA_FAULT_TORQUE_OFF;
            limp(c);
            vla_text_u32(&l.t, cfg->torque_off_ms);
            vla_text_str(&l.t, " ms: torque off");
            send_log(c, VLA_LEVEL_ERROR, VLA_LOG_TORQUE_OFF, &l.t);
        }
        send_state(c);
    }
}

void vla_controller_tick(vla_controller *c, uint64_t now_us) { advance(c, now_us); }

void vla_controller_send_state(vla_controller *c, uint64_t now_us) {
    advance(c, now_us);
    send_state(c);
}

void vla_controller_latch_fault(vla_controller *c, uint16_t fault_bits, uint64_t now_us) {
    advance(c, now_us);
    c->faults |= (uint16_t)(fault_bits & 0x1Fu); /* the five faults of protocol 1.0 */
    if (fault_bits & VLA_FAULT_TORQUE_OFF) limp(c);
    else hold(c);
    send_state(c);
}

uint64_t vla_time_extend(uint64_t *state, uint32_t now32_us) {
    uint32_t last = (uint32_t)(*state & 0xFFFFFFFFUL);
    *state += (uint32_t)(now32_us - last); /* modular difference: correct across one wrap */
    return *state;
}

/* --- messages --------------------------------------------------------------------------------------------------- */

static void on_command(vla_controller *c, uint32_t seq, const vla_command *cmd) {
    log_text l;
    const float *target = cmd->target;
    uint16_t code;
    c->commands_received++;
    c->ack_seq = seq;
    feed(c); /* refused or not, the link is alive */
    code = vla_check_command(c, cmd, text(&l), &target);
    if (code) {
        c->commands_rejected++;
        c->rejected = 1;
        send_log(c, VLA_LEVEL_WARNING, code, &l.t);
        send_state(c);
        return;
    }
    if (cmd->mode == VLA_MODE_JOINT_VELOCITY) c->hooks.velocity_target(c->hooks.ctx, target, c->cfg->n_joints);
    else c->hooks.position_target(c->hooks.ctx, target, c->cfg->n_joints);
    c->mode = cmd->mode;
    c->expires = cmd->valid_ms != 0;
    c->expiry_us = c->now_us + ms_to_us(cmd->valid_ms);
    c->rejected = 0;
    send_state(c);
}

static void on_hello(vla_controller *c, const vla_hello *m) {
    log_text l;
    c->armed = 0; /* re-armed by the next COMMAND or HEARTBEAT */
    c->linked = m->schema_hash == VLA_SCHEMA_HASH;
    send_hello_ack(c); /* in our own version, so the host can name the difference */
    if (!c->linked) {
        c->faults |= VLA_FAULT_VERSION;
        vla_text_str(text(&l), "schema ");
        vla_text_hex32(&l.t, m->schema_hash);
        vla_text_str(&l.t, " != ");
        vla_text_hex32(&l.t, (uint32_t)VLA_SCHEMA_HASH);
        vla_text_str(&l.t, ": host refused");
        send_log(c, VLA_LEVEL_ERROR, VLA_LOG_SCHEMA_MISMATCH, &l.t);
    }
    send_state(c);
}

static void on_foreign(vla_controller *c, const vla_header *h) {
    log_text l;
    c->linked = 0;
    c->faults |= VLA_FAULT_VERSION;
    vla_text_str(text(&l), "peer speaks protocol ");
    vla_text_u32(&l.t, h->major);
    vla_text_str(&l.t, ".");
    vla_text_u32(&l.t, h->minor);
    vla_text_str(&l.t, "; this controller speaks 1.0");
    if (h->type == VLA_HELLO) send_hello_ack(c);
    send_log(c, VLA_LEVEL_ERROR, VLA_LOG_VERSION_MISMATCH, &l.t);
    if (h->type == VLA_HELLO) send_state(c);
}

/* CLEAR_FAULT and TORQUE 1 from a host that has not linked are refused; TORQUE 0 and ESTOP are obeyed from anyone. */
static int refuse_unlinked(vla_controller *c, const char *what) {
    log_text l;
    if (c->linked) return 0;
    vla_text_str(text(&l), what);
    vla_text_str(&l.t, " refused: no HELLO from this host");
    send_log(c, VLA_LEVEL_WARNING, VLA_LOG_VERSION_MISMATCH, &l.t);
    send_state(c);
    return 1;
}

static void on_clear_fault(vla_controller *c, uint16_t mask) {
    if (refuse_unlinked(c, "CLEAR_FAULT")) return;
    c->faults &= (uint16_t)~mask;
    if (!c->faults) torque_on(c);
    if (c->armed) c->last_feed_us = c->now_us; /* a cleared watchdog does not trip again at once */
    send_state(c);
}

static void on_torque(vla_controller *c, uint8_t enable) {
    log_text l;
    if (!enable) {
        limp(c);
    } else if (refuse_unlinked(c, "TORQUE 1")) {
        return;
    } else if (c->faults & VLA_FAULT_TORQUE_OFF) {
        vla_text_str(text(&l), "TORQUE 1 refused: TORQUE_OFF latched; CLEAR_FAULT");
        send_log(c, VLA_LEVEL_WARNING, VLA_LOG_REFUSED_WHILE_FAULTED, &l.t);
    } else {
        torque_on(c);
    }
    send_state(c);
}

void vla_controller_handle(vla_controller *c, vla_parse_result kind, const vla_header *hdr, const vla_msg *msg,
                           uint64_t now_us) {
    log_text l;
    advance(c, now_us); /* a fault that tripped before this frame arrived is reported first */
    if (kind == VLA_PARSE_FOREIGN) {
        on_foreign(c, hdr);
        return;
    }
    if (kind != VLA_PARSE_MESSAGE) return;
    switch (msg->type) {
    case VLA_COMMAND: on_command(c, hdr->seq, &msg->u.command); break;
    case VLA_HEARTBEAT:
        feed(c);
        send_state(c);
        break;
    case VLA_HELLO: on_hello(c, &msg->u.hello); break;
    case VLA_ESTOP:
        c->faults |= VLA_FAULT_ESTOP;
        hold(c); /* decelerate at acc_max, then hold */
        vla_text_str(text(&l), "ESTOP: stopping at acc_max; latched until CLEAR_FAULT");
        send_log(c, VLA_LEVEL_ERROR, VLA_LOG_ESTOP, &l.t);
        send_state(c);
        break;
    case VLA_CLEAR_FAULT: on_clear_fault(c, msg->u.clear_fault_mask); break;
    case VLA_TORQUE: on_torque(c, msg->u.torque_enable); break;
    default: break; /* STATE, HELLO_ACK and LOG from a host need no reply */
    }
}

void vla_controller_feed_byte(vla_controller *c, vla_parser *p, uint8_t byte, uint64_t now_us) {
    vla_parse_result r = vla_parser_feed_byte(p, byte);
    if (r != VLA_PARSE_NONE) vla_controller_handle(c, r, &p->header, &p->msg, now_us);
}
