/* vla_controller_init: the configuration is checked once, by name and value, so that nothing the controller
 * later announces or compares can be invalid (a HELLO_ACK that does not encode, a NaN limit). */
#include "vla_internal.h"

#include <string.h>

static int bad(vla_text *t, const char *what) {
    vla_text_str(t, what);
    return -1;
}

static int bad_name(vla_text *t, const char *what, vla_str s) {
    int not_utf8 = s.len && s.len <= VLA_MAX_STR && s.data && !vla_utf8_valid(s.data, s.len);
    vla_text_str(t, what);
    vla_text_str(t, " must be 1 to 64 bytes of UTF-8, got ");
    vla_text_u32(t, s.len);
    vla_text_str(t, not_utf8 ? " bytes, not UTF-8" : " bytes");
    return -1;
}

static int str_ok(vla_str s) { return s.len >= 1 && s.len <= VLA_MAX_STR && s.data && vla_utf8_valid(s.data, s.len); }

static int check_joint(vla_text *t, uint8_t i, const vla_joint_info *j) {
    int ok = vla_f32_finite(j->pos_min) && vla_f32_finite(j->pos_max) && j->pos_min < j->pos_max &&
             vla_f32_finite(j->vel_max) && j->vel_max > 0.0f && vla_f32_finite(j->acc_max) && j->acc_max > 0.0f &&
             vla_f32_finite(j->effort_max) && j->effort_max >= 0.0f && j->unit <= VLA_UNIT_FRACTION;
    if (!str_ok(j->name)) {
        vla_text_str(t, "joint ");
        vla_text_u32(t, i);
        return bad_name(t, " name", j->name);
    }
    if (ok) return 0;
    vla_text_str(t, "joint ");
    vla_text_u32(t, i);
    vla_text_str(t, " '");
    vla_text_bytes(t, j->name.data, j->name.len);
    vla_text_str(t, "': need unit 0, 1 or 2, finite pos_min < pos_max, vel_max > 0, acc_max > 0, effort_max >= 0; ");
    vla_text_str(t, "got unit ");
    vla_text_u32(t, j->unit);
    vla_text_str(t, ", pos ");
    vla_text_f32(t, j->pos_min);
    vla_text_str(t, "..");
    vla_text_f32(t, j->pos_max);
    vla_text_str(t, ", vel_max ");
    vla_text_f32(t, j->vel_max);
    vla_text_str(t, ", acc_max ");
    vla_text_f32(t, j->acc_max);
    vla_text_str(t, ", effort_max ");
    vla_text_f32(t, j->effort_max);
    return -1;
}

static int check(vla_text *t, const vla_config *cfg, const vla_hooks *h) {
    uint8_t i;
    if (!h->write || !h->read_joints || !h->hold || !h->torque) {
        return bad(t, "hooks write, read_joints, hold and torque are required");
    }
    if (cfg->modes == 0 || (cfg->modes & ~0x07u)) {
        vla_text_str(t, "modes must be a non-empty set of VLA_MODE_BIT(1..3), got ");
        vla_text_u32(t, cfg->modes);
        return -1;
    }
    if ((cfg->modes & (VLA_MODE_BIT(VLA_MODE_JOINT_POSITION) | VLA_MODE_BIT(VLA_MODE_EE_DELTA))) &&
        !h->position_target) {
        return bad(t, "JOINT_POSITION and EE_DELTA need the position_target hook");
    }
    if ((cfg->modes & VLA_MODE_BIT(VLA_MODE_JOINT_VELOCITY)) && !h->velocity_target) {
        return bad(t, "JOINT_VELOCITY needs the velocity_target hook");
    }
    if ((cfg->modes & VLA_MODE_BIT(VLA_MODE_EE_DELTA)) && !h->ee_delta) {
        return bad(t, "EE_DELTA is offered but the ee_delta hook is NULL");
    }
    if (!str_ok(cfg->name)) return bad_name(t, "name", cfg->name);
    if (cfg->watchdog_ms == 0) return bad(t, "watchdog_ms must be 1..65535, got 0");
    if (!vla_f32_finite(cfg->max_rate_hz) || !(cfg->max_rate_hz > 0.0f)) {
        vla_text_str(t, "max_rate_hz must be finite and > 0, got ");
        vla_text_f32(t, cfg->max_rate_hz);
        return -1;
    }
    if (!vla_f32_finite(cfg->moving_speed) || cfg->moving_speed < 0.0f) {
        vla_text_str(t, "moving_speed must be finite and >= 0, got ");
        vla_text_f32(t, cfg->moving_speed);
        return -1;
    }
    if (cfg->n_joints < 1 || cfg->n_joints > VLA_MAX_JOINTS || !cfg->joints) {
        vla_text_str(t, "n_joints must be 1..");
        vla_text_u32(t, VLA_MAX_JOINTS);
        vla_text_str(t, " with a joints table, got ");
        vla_text_u32(t, cfg->n_joints);
        return -1;
    }
    for (i = 0; i < cfg->n_joints; i++) {
        if (check_joint(t, i, &cfg->joints[i]) != 0) return -1;
    }
    return 0;
}

void vla_hello_ack_of(const vla_config *cfg, vla_hello_ack *m) {
    m->schema_hash = VLA_SCHEMA_HASH;
    m->fw_major = cfg->fw_major;
    m->fw_minor = cfg->fw_minor;
    m->fw_patch = cfg->fw_patch;
    m->modes = cfg->modes;
    m->max_rate_hz = cfg->max_rate_hz;
    m->watchdog_ms = cfg->watchdog_ms;
    m->torque_off_ms = cfg->torque_off_ms;
    m->n_joints = cfg->n_joints;
    m->name = cfg->name;
    m->joints = cfg->joints;
}

int vla_controller_init(vla_controller *c, const vla_config *cfg, const vla_hooks *hooks, uint64_t now_us,
                        char *why, size_t why_cap) {
    char spare[1];
    vla_hello_ack ack;
    vla_text t;
    vla_text_init(&t, why ? why : spare, why ? why_cap : sizeof spare);
    memset(c, 0, sizeof *c);
    if (!cfg || !hooks) return bad(&t, "cfg and hooks are required");
    if (check(&t, cfg, hooks) != 0) {
        vla_text_end(&t);
        return -1;
    }
    c->cfg = cfg;
    c->hooks = *hooks;
    c->t0_us = c->now_us = c->last_feed_us = now_us;
    /* The announcement must encode: joint names and limits fit a 512-byte frame (about 12 joints with 64-byte
     * names, 32 with short ones). */
    vla_hello_ack_of(cfg, &ack);
    if (vla_encode_hello_ack(c->tx, sizeof c->tx, 0, &ack) == 0) {
        c->cfg = NULL;
        return bad(&t, "HELLO_ACK would exceed 512 bytes: shorten the joint or controller names");
    }
    c->torque_on = 1;
    c->hooks.torque(c->hooks.ctx, 1);
    c->hooks.hold(c->hooks.ctx);
    return 0;
}
