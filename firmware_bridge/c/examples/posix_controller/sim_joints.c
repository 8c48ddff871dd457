/* The simulated arm: first-order tracking (v = error / tau, tau = vel_max/acc_max so braking from full speed needs
 * exactly acc_max), velocity clamped to vel_max, acceleration to acc_max, positions to the limits. Effort is
 * 0.5·effort_max at full acceleration. No gravity: a limp joint stops where it is. */
#include "sim_joints.h"

#include <string.h>

static const char *const REVOLUTE[6] = {"shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"};

static void set_joint(sim_arm *a, int i, const char *name, uint8_t unit, float lo, float hi, float v, float acc,
                      float effort) {
    vla_joint_info *j = &a->joints[i];
    size_t n = strlen(name);
    memcpy(a->names[i], name, n + 1);
    j->name.data = (const uint8_t *)a->names[i];
    j->name.len = (uint8_t)n;
    j->unit = unit;
    j->pos_min = lo;
    j->pos_max = hi;
    j->vel_max = v;
    j->acc_max = acc;
    j->effort_max = effort;
}

void sim_arm_init(sim_arm *a, int n_revolute, int gantry, uint16_t watchdog_ms, uint16_t torque_off_ms) {
    static const vla_str ARM = VLA_STR("vla-lite C reference"), GANTRY = VLA_STR("vla-lite C reference gantry");
    int i, n;
    char name[16] = "joint_";
    memset(a, 0, sizeof *a);
    if (gantry) {
        set_joint(a, 0, "x", VLA_UNIT_M, 0.0f, 0.6f, 0.5f, 5.0f, 50.0f);
        set_joint(a, 1, "y", VLA_UNIT_M, -0.3f, 0.3f, 0.5f, 5.0f, 50.0f);
        set_joint(a, 2, "z", VLA_UNIT_M, 0.0f, 0.4f, 0.5f, 5.0f, 50.0f);
        set_joint(a, 3, "gripper", VLA_UNIT_M, 0.0f, 0.08f, 0.5f, 5.0f, 50.0f);
        n = 4;
        a->pos[0] = 0.3f;
        a->pos[2] = 0.2f;
        a->pos[3] = 0.08f;
    } else {
        for (i = 0; i < n_revolute; i++) {
            if (i < 6) {
                set_joint(a, i, REVOLUTE[i], VLA_UNIT_RAD, -3.0f, 3.0f, 2.0f, 10.0f, 20.0f);
                continue;
            }
            name[6] = (char)('0' + i / 10); /* joint_6 .. joint_30, as default_arm() names them */
            name[7] = (char)('0' + i % 10);
            name[8] = '\0';
            if (i < 10) { name[6] = name[7]; name[7] = '\0'; }
            set_joint(a, i, name, VLA_UNIT_RAD, -3.0f, 3.0f, 2.0f, 10.0f, 20.0f);
        }
        set_joint(a, n_revolute, "gripper", VLA_UNIT_M, 0.0f, 0.08f, 0.2f, 2.0f, 40.0f);
        n = n_revolute + 1;
    }
    a->gantry = gantry;
    a->torque = 1;
    a->cfg.name = gantry ? GANTRY : ARM;
    a->cfg.fw_minor = 1; /* firmware 0.1.0 */
    a->cfg.modes = (uint8_t)(VLA_MODE_BIT(VLA_MODE_JOINT_POSITION) | VLA_MODE_BIT(VLA_MODE_JOINT_VELOCITY) |
                             (gantry ? VLA_MODE_BIT(VLA_MODE_EE_DELTA) : 0u));
    a->cfg.max_rate_hz = 500.0f;
    a->cfg.watchdog_ms = watchdog_ms;
    a->cfg.torque_off_ms = torque_off_ms;
    a->cfg.n_joints = (uint8_t)n;
    a->cfg.joints = a->joints;
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static void substep(sim_arm *a, float dt) {
    int i;
    for (i = 0; i < a->cfg.n_joints; i++) {
        const vla_joint_info *j = &a->joints[i];
        float tau = j->vel_max / j->acc_max, v_des = 0.0f, dv, a_dt = j->acc_max * dt;
        if (!a->torque) {
            a->vel[i] = a->eff[i] = 0.0f;
            continue;
        }
        if (a->mode == 1) {
            v_des = (a->target[i] - a->pos[i]) / tau;
        } else if (a->mode == 2) { /* brake first-order toward the limits */
            v_des = clampf(a->target[i], (j->pos_min - a->pos[i]) / tau, (j->pos_max - a->pos[i]) / tau);
        }
        v_des = clampf(v_des, -j->vel_max, j->vel_max);
        dv = clampf(v_des - a->vel[i], -a_dt, a_dt);
        a->vel[i] += dv;
        a->pos[i] += a->vel[i] * dt;
        if (a->mode == 1 && a->pos[i] - a->target[i] < 1e-6f && a->target[i] - a->pos[i] < 1e-6f &&
            a->vel[i] < a_dt && a->vel[i] > -a_dt) {
            a->pos[i] = a->target[i]; /* landed: stand still exactly on target */
            a->vel[i] = 0.0f;
        }
        if (a->pos[i] <= j->pos_min || a->pos[i] >= j->pos_max) { /* hard stop */
            a->pos[i] = clampf(a->pos[i], j->pos_min, j->pos_max);
            a->vel[i] = 0.0f;
        }
        if (a->mode == 0 && a->vel[i] < 1e-9f && a->vel[i] > -1e-9f) a->vel[i] = 0.0f;
        a->eff[i] = clampf(0.5f * j->effort_max * dv / a_dt, -j->effort_max, j->effort_max);
    }
}

void sim_arm_step(sim_arm *a, double dt_s) {
    while (dt_s > 0.0) {
        double dt = dt_s < 1e-3 ? dt_s : 1e-3;
        substep(a, (float)dt);
        dt_s -= dt;
    }
}

void sim_read_joints(void *ctx, float *position, float *velocity, float *effort, uint8_t n) {
    sim_arm *a = (sim_arm *)ctx;
    memcpy(position, a->pos, n * sizeof *position);
    memcpy(velocity, a->vel, n * sizeof *velocity);
    memcpy(effort, a->eff, n * sizeof *effort);
}

void sim_position_target(void *ctx, const float *position, uint8_t n) {
    sim_arm *a = (sim_arm *)ctx;
    memcpy(a->target, position, n * sizeof *position);
    a->mode = 1;
}

void sim_velocity_target(void *ctx, const float *velocity, uint8_t n) {
    sim_arm *a = (sim_arm *)ctx;
    memcpy(a->target, velocity, n * sizeof *velocity);
    a->mode = 2;
}

void sim_hold(void *ctx) { ((sim_arm *)ctx)->mode = 0; }

void sim_torque(void *ctx, int on) {
    sim_arm *a = (sim_arm *)ctx;
    a->torque = on;
    a->mode = 0;
}

/* EE_DELTA for the gantry: dx dy dz add to x y z; gripper -1 (open) .. +1 (closed) maps onto [0.08, 0] m. */
int sim_ee_delta(void *ctx, const float *position, const float *delta, uint8_t n_delta, float *joint_target,
                 const char **why) {
    sim_arm *a = (sim_arm *)ctx;
    float g = n_delta == 4 ? delta[3] : 0.0f, open_m = a->joints[3].pos_max, closed_m = a->joints[3].pos_min;
    int i;
    if (n_delta != 4) {
        *why = "a gantry takes dx dy dz gripper (4 values)";
        return -1;
    }
    if (!(g >= -1.0f && g <= 1.0f)) {
        *why = "gripper outside [-1, 1]";
        return -1;
    }
    for (i = 0; i < 3; i++) joint_target[i] = position[i] + delta[i];
    joint_target[3] = open_m + (closed_m - open_m) * (g + 1.0f) / 2.0f;
    return 0;
}
