/* Test harness: the C controller (on the simulated arm) and a bare parser, driven line by line from stdin with
 * fake time, so pytest can replay the same packets into virtual_arm.py and compare.
 *
 *   R <t_us> <hex>  step the arm to t_us, then feed the bytes to the controller's parser
 *   T <t_us>        step the arm to t_us and tick the controller
 *   P <hex>         feed bytes to the bare parser: `m <re-encoded frame hex>` or `f <seq> <major> <minor> <type>`
 *   X <t_us> <bits> the firmware latches a fault (vla_controller_latch_fault)
 *   S               `S <controller parser counters> | <bare parser counters>`, `C <controller counters>`
 * Output: `o <frame hex>` per frame the controller sends, `h <hook> [f32 bits...]` per motion hook called, and
 * `.` after each input line. Arguments: [--joints N] [--gantry] [--watchdog-ms MS] [--torque-off-ms MS];
 * `--bad CASE` instead initialises a broken configuration and prints `why <reason>` (exit 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/posix_controller/sim_joints.h"

static sim_arm arm;
static vla_controller ctl;
static vla_parser ctl_parser, bare_parser;
static uint64_t arm_time_us;

static void print_hex(const char *tag, const uint8_t *b, size_t n) {
    size_t i;
    printf("%s ", tag);
    for (i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\n");
}

static void print_f32s(const char *tag, const float *v, uint8_t n) {
    uint8_t i;
    printf("h %s", tag);
    for (i = 0; i < n; i++) printf(" %08lx", (unsigned long)vla_f32_bits(v[i]));
    printf("\n");
}

static void hook_write(void *ctx, const uint8_t *b, size_t n) { (void)ctx; print_hex("o", b, n); }
static void hook_position(void *ctx, const float *t, uint8_t n) {
    print_f32s("pos", t, n);
    sim_position_target(ctx, t, n);
}
static void hook_velocity(void *ctx, const float *t, uint8_t n) {
    print_f32s("vel", t, n);
    sim_velocity_target(ctx, t, n);
}
static void hook_hold(void *ctx) { printf("h hold\n"); sim_hold(ctx); }
static void hook_torque(void *ctx, int on) { printf("h torque %d\n", on); sim_torque(ctx, on); }

static size_t from_hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    unsigned v;
    while (s[0] && s[1] && n < cap && sscanf(s, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void step_to(uint64_t t_us) {
    if (t_us > arm_time_us) sim_arm_step(&arm, (double)(t_us - arm_time_us) * 1e-6);
    if (t_us > arm_time_us) arm_time_us = t_us;
}

static void print_stats(const char *tag, const vla_parser_stats *s) {
    printf("%s %lu %lu %lu %lu %lu %lu %lu %lu %lu", tag, (unsigned long)s->frames, (unsigned long)s->bytes,
           (unsigned long)s->overflow, (unsigned long)s->cobs_errors, (unsigned long)s->short_frames,
           (unsigned long)s->crc_failures, (unsigned long)s->bad_payload, (unsigned long)s->unknown_type,
           (unsigned long)s->foreign_version);
}

static void bare_feed(const uint8_t *b, size_t n) {
    static uint8_t out[VLA_MAX_WIRE];
    size_t i, len;
    for (i = 0; i < n; i++) {
        vla_parse_result r = vla_parser_feed_byte(&bare_parser, b[i]);
        if (r == VLA_PARSE_FOREIGN) {
            const vla_header *h = &bare_parser.header;
            printf("f %lu %u %u %u\n", (unsigned long)h->seq, h->major, h->minor, h->type);
        } else if (r == VLA_PARSE_MESSAGE) {
            len = vla_encode_msg(out, sizeof out, &bare_parser.header, &bare_parser.msg);
            if (len == 0) printf("m unencodable\n");
            else print_hex("m", out, len);
        }
    }
}

static int bad_config(const char *which, vla_hooks *hooks) {
    char why[200];
    if (strcmp(which, "limits") == 0) arm.joints[2].pos_min = 5.0f;
    else if (strcmp(which, "nan") == 0) arm.joints[1].vel_max = vla_f32_from_bits(0x7FC00000UL);
    else if (strcmp(which, "name") == 0) arm.joints[0].name.len = 65;
    else if (strcmp(which, "ee") == 0) arm.cfg.modes |= VLA_MODE_BIT(VLA_MODE_EE_DELTA);
    else if (strcmp(which, "watchdog") == 0) arm.cfg.watchdog_ms = 0;
    else if (strcmp(which, "hooks") == 0) hooks->torque = NULL;
    else return 2;
    if (vla_controller_init(&ctl, &arm.cfg, hooks, 0, why, sizeof why) == 0) return 0;
    printf("why %s\n", why);
    return 3;
}

int main(int argc, char **argv) {
    static char line[8192];
    static uint8_t bytes[4096];
    vla_hooks hooks;
    char why[200];
    int i, joints = 6, gantry = 0;
    long watchdog_ms = 100, torque_off_ms = 2000;
    const char *bad = NULL;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gantry") == 0) gantry = 1;
        else if (i + 1 >= argc) return 2;
        else if (strcmp(argv[i], "--joints") == 0) joints = atoi(argv[++i]);
        else if (strcmp(argv[i], "--watchdog-ms") == 0) watchdog_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--torque-off-ms") == 0) torque_off_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--bad") == 0) bad = argv[++i];
        else return 2;
    }
    sim_arm_init(&arm, joints, gantry, (uint16_t)watchdog_ms, (uint16_t)torque_off_ms);
    hooks.ctx = &arm;
    hooks.write = hook_write;
    hooks.read_joints = sim_read_joints;
    hooks.position_target = hook_position;
    hooks.velocity_target = hook_velocity;
    hooks.hold = hook_hold;
    hooks.torque = hook_torque;
    hooks.ee_delta = gantry ? sim_ee_delta : NULL;
    if (bad) return bad_config(bad, &hooks);
    if (vla_controller_init(&ctl, &arm.cfg, &hooks, 0, why, sizeof why) != 0) {
        printf("why %s\n", why);
        return 3;
    }
    vla_parser_init(&ctl_parser);
    vla_parser_init(&bare_parser);
    printf(".\n");
    while (fgets(line, sizeof line, stdin)) {
        unsigned long long t = 0;
        unsigned long bits = 0;
        char hex[8000];
        size_t n, k;
        hex[0] = '\0';
        if (line[0] == 'R' && sscanf(line + 1, "%llu %7999s", &t, hex) >= 1) {
            step_to(t);
            n = from_hex(hex, bytes, sizeof bytes);
            for (k = 0; k < n; k++) vla_controller_feed_byte(&ctl, &ctl_parser, bytes[k], t);
        } else if (line[0] == 'T' && sscanf(line + 1, "%llu", &t) == 1) {
            step_to(t);
            vla_controller_tick(&ctl, t);
        } else if (line[0] == 'P' && sscanf(line + 1, "%7999s", hex) == 1) {
            bare_feed(bytes, from_hex(hex, bytes, sizeof bytes));
        } else if (line[0] == 'X' && sscanf(line + 1, "%llu %lu", &t, &bits) == 2) {
            step_to(t);
            vla_controller_latch_fault(&ctl, (uint16_t)bits, t);
        } else if (line[0] == 'S') {
            print_stats("S", &ctl_parser.stats);
            print_stats(" |", &bare_parser.stats);
            printf("\nC %lu %lu %lu %lu\n", (unsigned long)ctl.commands_received,
                   (unsigned long)ctl.commands_rejected, (unsigned long)ctl.frames_sent,
                   (unsigned long)ctl.encode_failures);
        } else {
            printf("error: cannot read line %s", line);
            return 2;
        }
        printf(".\n");
    }
    return 0;
}
