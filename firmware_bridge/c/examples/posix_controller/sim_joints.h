/* A simulated arm behind the controller hooks: the default vla-lite arm (revolute joints plus a gripper, as
 * `vla-lite sim-arm`) or a gantry with EE_DELTA, and a joint model that tracks targets first-order within
 * vel_max and acc_max. Used by posix_controller and by the C test harness. */
#ifndef SIM_JOINTS_H
#define SIM_JOINTS_H

#include "vla_lite.h"

typedef struct {
    vla_config cfg;
    vla_joint_info joints[VLA_MAX_JOINTS];
    char names[VLA_MAX_JOINTS][16];
    float pos[VLA_MAX_JOINTS], vel[VLA_MAX_JOINTS], eff[VLA_MAX_JOINTS]; /* rad or m, per s, N·m or N */
    float target[VLA_MAX_JOINTS]; /* positions (mode 1) or velocities (mode 2) */
    int mode;                     /* 0 hold, 1 position, 2 velocity */
    int torque;                   /* 0: limp */
    int gantry;                   /* x, y, z (m) and a gripper: EE_DELTA offered */
} sim_arm;

/* n_revolute 1..31 joints (±3 rad, 2 rad/s, 10 rad/s², 20 N·m) plus a gripper (0..0.08 m), or, with gantry set,
 * x/y/z/gripper in m. Positions start at 0 (the gantry at the middle of x, z and open). */
void sim_arm_init(sim_arm *a, int n_revolute, int gantry, uint16_t watchdog_ms, uint16_t torque_off_ms);
/* Advance the joints by dt_s seconds (integrated in steps of at most 1 ms). */
void sim_arm_step(sim_arm *a, double dt_s);

/* The hooks, with ctx = the sim_arm. */
void sim_read_joints(void *ctx, float *position, float *velocity, float *effort, uint8_t n);
void sim_position_target(void *ctx, const float *position, uint8_t n);
void sim_velocity_target(void *ctx, const float *velocity, uint8_t n);
void sim_hold(void *ctx);
void sim_torque(void *ctx, int on);
int sim_ee_delta(void *ctx, const float *position, const float *delta, uint8_t n_delta, float *joint_target,
                 const char **why);

#endif
