// vla-lite arm controller on an Arduino-class board: four hobby servos on PWM pins, JOINT_POSITION only.
//
// Build: copy firmware_bridge/c/*.c and *.h into this sketch folder (or into libraries/vla_lite/src/) and
// open it in the Arduino IDE. The core's UART interrupt fills Serial's ring buffer; loop() feeds those bytes
// to the parser (no heap, bounded work per byte), ticks the controller for the watchdog, and slews the servos.
// RAM: about 3.5 KB with the default VLA_MAX_JOINTS 32; on a 2 KB AVR build with -DVLA_MAX_JOINTS=8.
// Hobby servos report nothing back: the measured state is the slewed command (open loop), effort unmeasured.
#include <Servo.h>

#include "vla_lite.h"

#define N_JOINTS 4
#define STEP_US 2000UL          // servo update period
#define US_PER_RAD 636.6f       // 1000 us of pulse per pi/2 rad of a standard servo
static const uint8_t SERVO_PIN[N_JOINTS] = {3, 5, 6, 9};
static const vla_joint_info JOINTS[N_JOINTS] = {
    // name, unit, pos_min, pos_max (rad), vel_max (rad/s), acc_max (rad/s^2), effort_max (unmeasured)
    {VLA_STR("base"), VLA_UNIT_RAD, -1.5f, 1.5f, 1.5f, 6.0f, 0.0f},
    {VLA_STR("shoulder"), VLA_UNIT_RAD, -1.2f, 1.2f, 1.5f, 6.0f, 0.0f},
    {VLA_STR("elbow"), VLA_UNIT_RAD, -1.5f, 1.5f, 1.5f, 6.0f, 0.0f},
    {VLA_STR("gripper"), VLA_UNIT_RAD, 0.0f, 1.0f, 2.0f, 10.0f, 0.0f},
};

static Servo servo[N_JOINTS];
static float pos[N_JOINTS], vel[N_JOINTS], target[N_JOINTS];  // rad, rad/s, rad
static bool tracking = false;  // false: decelerate to standstill and hold
static vla_config config;
static vla_controller ctl;
static vla_parser parser;
static uint64_t clock_state;   // micros() extended to 64 bits
static uint64_t next_step_us;

static void hw_write(void *, const uint8_t *bytes, size_t len) { Serial.write(bytes, len); }

static void hw_read(void *, float *p, float *v, float *e, uint8_t n) {
    for (uint8_t i = 0; i < n; i++) {
        p[i] = pos[i];
        v[i] = vel[i];
        e[i] = 0.0f;
    }
}

static void hw_position(void *, const float *t, uint8_t n) {
    for (uint8_t i = 0; i < n; i++) target[i] = t[i];
    tracking = true;
}

static void hw_hold(void *) { tracking = false; }

static void hw_torque(void *, int on) {
    for (uint8_t i = 0; i < N_JOINTS; i++) {
        vel[i] = 0.0f;
        if (on && !servo[i].attached()) servo[i].attach(SERVO_PIN[i]);
        if (!on) servo[i].detach();  // no pulses: a hobby servo goes limp
    }
    tracking = false;
}

// Track within vel_max and acc_max: first-order toward the target, or braking to zero when holding.
static void step_servos(float dt) {
    for (uint8_t i = 0; i < N_JOINTS; i++) {
        const vla_joint_info *j = &JOINTS[i];
        float v_des = tracking ? (target[i] - pos[i]) * j->acc_max / (2.0f * j->vel_max) : 0.0f;
        float dv_max = j->acc_max * dt;
        v_des = v_des > j->vel_max ? j->vel_max : v_des < -j->vel_max ? -j->vel_max : v_des;
        vel[i] += v_des - vel[i] > dv_max ? dv_max : v_des - vel[i] < -dv_max ? -dv_max : v_des - vel[i];
        pos[i] += vel[i] * dt;
        if (pos[i] < j->pos_min || pos[i] > j->pos_max) {
            pos[i] = pos[i] < j->pos_min ? j->pos_min : j->pos_max;
            vel[i] = 0.0f;
        }
        if (servo[i].attached()) servo[i].writeMicroseconds(1500 + (int)(pos[i] * US_PER_RAD));
    }
}

void setup() {
    static vla_hooks hooks;
    char why[96];
    Serial.begin(115200);
    config.name = vla_str_from("arduino 4-servo arm");
    config.fw_major = 0;
    config.fw_minor = 1;
    config.fw_patch = 0;
    config.modes = VLA_MODE_BIT(VLA_MODE_JOINT_POSITION);
    config.max_rate_hz = 100.0f;
    config.watchdog_ms = 200;
    config.torque_off_ms = 0;  // hobby servos hold without harm; never go limp on silence
    config.n_joints = N_JOINTS;
    config.joints = JOINTS;
    config.moving_speed = 0.01f;  // rad/s
    hooks.ctx = NULL;
    hooks.write = hw_write;
    hooks.read_joints = hw_read;
    hooks.position_target = hw_position;
    hooks.velocity_target = NULL;  // JOINT_VELOCITY not offered
    hooks.hold = hw_hold;
    hooks.torque = hw_torque;
    hooks.ee_delta = NULL;  // EE_DELTA not offered
    uint64_t now = vla_time_extend(&clock_state, micros());
    if (vla_controller_init(&ctl, &config, &hooks, now, why, sizeof why) != 0) {
        pinMode(LED_BUILTIN, OUTPUT);  // a bad table in this file: blink forever rather than move
        for (;;) {
            digitalWrite(LED_BUILTIN, HIGH);
            delay(100);
            digitalWrite(LED_BUILTIN, LOW);
            delay(100);
        }
    }
    vla_parser_init(&parser);
    next_step_us = now;
}

void loop() {
    uint64_t now = vla_time_extend(&clock_state, micros());  // call often: micros() wraps every 71 minutes
    while (Serial.available() > 0) vla_controller_feed_byte(&ctl, &parser, (uint8_t)Serial.read(), now);
    if (now >= next_step_us) {
        step_servos(STEP_US * 1e-6f);
        next_step_us += STEP_US;
        if (next_step_us < now) next_step_us = now + STEP_US;  // after a stall: no burst of catch-up steps
    }
    vla_controller_tick(&ctl, now);
}
