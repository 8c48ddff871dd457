/* The refusal rules of PROTOCOL.md §3 for a COMMAND, in virtual_arm.py's order: the first rule broken names the
 * LOG code and the reason (joint name and value where there is one). */
#include "vla_internal.h"

static const char *const FAULT_NAMES[5] = {"WATCHDOG", "TORQUE_OFF", "ESTOP", "HARDWARE", "VERSION"};
static const char *const MODE_NAMES[4] = {"?", "JOINT_POSITION", "JOINT_VELOCITY", "EE_DELTA"};

void vla_text_faults(vla_text *t, uint16_t bits) {
    int i, first = 1;
    for (i = 0; i < 5; i++) {
        if (!(bits & (1u << i))) continue;
        if (!first) vla_text_str(t, "|");
        vla_text_str(t, FAULT_NAMES[i]);
        first = 0;
    }
}

/* `name what value outside [lo, hi]`, or `name what nan is not finite`. */
static uint16_t out_of_limits(vla_text *t, const vla_joint_info *j, const char *what, float v, float lo, float hi) {
    vla_text_bytes(t, j->name.data, j->name.len);
    vla_text_str(t, " ");
    vla_text_str(t, what);
    vla_text_str(t, " ");
    vla_text_f32(t, v);
    if (!vla_f32_finite(v)) {
        vla_text_str(t, " is not finite");
    } else {
        vla_text_str(t, " outside [");
        vla_text_f32(t, lo);
        vla_text_str(t, ", ");
        vla_text_f32(t, hi);
        vla_text_str(t, "]");
    }
    return VLA_LOG_TARGET_OUT_OF_LIMITS;
}

static uint16_t check_ee(vla_controller *c, const vla_command *cmd, vla_text *t, const float **target) {
    const char *why = "cannot convert";
    vla_state *s = &c->state; /* scratch for the measured joints */
    uint8_t i;
    for (i = 0; i < cmd->n; i++) {
        if (!vla_f32_finite(cmd->target[i])) {
            vla_text_str(t, "EE_DELTA value ");
            vla_text_u32(t, i);
            vla_text_str(t, " is not finite");
            return VLA_LOG_TARGET_OUT_OF_LIMITS;
        }
    }
    c->hooks.read_joints(c->hooks.ctx, s->position, s->velocity, s->effort, c->cfg->n_joints);
    if (c->hooks.ee_delta(c->hooks.ctx, s->position, cmd->target, cmd->n, c->scratch, &why) != 0) {
        vla_text_str(t, "EE_DELTA: ");
        vla_text_str(t, why ? why : "cannot convert");
        return VLA_LOG_TARGET_OUT_OF_LIMITS;
    }
    *target = c->scratch;
    return 0;
}

uint16_t vla_check_command(vla_controller *c, const vla_command *cmd, vla_text *t, const float **target) {
    const vla_config *cfg = c->cfg;
    uint8_t mode = cmd->mode, n = cmd->n, i;
    uint16_t code;
    *target = cmd->target;
    if (!c->linked) {
        vla_text_str(t, "COMMAND refused: no HELLO of protocol 1 and this schema");
        return VLA_LOG_VERSION_MISMATCH;
    }
    if (c->faults) {
        vla_text_str(t, "COMMAND refused: ");
        vla_text_faults(t, c->faults);
        vla_text_str(t, " latched; send CLEAR_FAULT");
        return VLA_LOG_REFUSED_WHILE_FAULTED;
    }
    if (!c->torque_on) {
        vla_text_str(t, "COMMAND refused: torque is off; send TORQUE 1");
        return VLA_LOG_REFUSED_WHILE_FAULTED;
    }
    if (mode < 1 || mode > 3 || !(cfg->modes & VLA_MODE_BIT(mode))) {
        vla_text_str(t, "mode ");
        vla_text_u32(t, mode);
        vla_text_str(t, " not offered (offered: ");
        for (i = 1, code = 0; i <= 3; i++) {
            if (!(cfg->modes & VLA_MODE_BIT(i))) continue;
            if (code++) vla_text_str(t, ",");
            vla_text_u32(t, i);
        }
        vla_text_str(t, ")");
        return VLA_LOG_BAD_MODE;
    }
    if (mode == VLA_MODE_EE_DELTA ? (n != 4 && n != 7) : n != cfg->n_joints) {
        vla_text_str(t, MODE_NAMES[mode]);
        vla_text_str(t, mode == VLA_MODE_EE_DELTA ? " takes 4 or 7 values, got " : " takes ");
        if (mode != VLA_MODE_EE_DELTA) {
            vla_text_u32(t, cfg->n_joints);
            vla_text_str(t, " targets, got ");
        }
        vla_text_u32(t, n);
        return VLA_LOG_BAD_LENGTH;
    }
    if (cmd->valid_ms == 0 && mode != VLA_MODE_JOINT_POSITION) {
        vla_text_str(t, "valid_ms 0 (no expiry) is for JOINT_POSITION only");
        return VLA_LOG_BAD_MODE;
    }
    if (mode == VLA_MODE_EE_DELTA && (code = check_ee(c, cmd, t, target)) != 0) return code;
    for (i = 0; i < cfg->n_joints; i++) { /* NaN fails every comparison, so it is refused here too */
        const vla_joint_info *j = &cfg->joints[i];
        float v = (*target)[i];
        if (mode == VLA_MODE_JOINT_VELOCITY) {
            if (!(v >= -j->vel_max && v <= j->vel_max)) {
                return out_of_limits(t, j, "velocity", v, -j->vel_max, j->vel_max);
            }
        } else if (!(v >= j->pos_min && v <= j->pos_max)) {
            return out_of_limits(t, j, "target", v, j->pos_min, j->pos_max);
        }
    }
    return 0;
}
