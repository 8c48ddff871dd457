/* posix_controller: the C reference controller on a new pty (default) or a serial device, with a simulated arm.
 *
 *   posix_controller [--port /dev/ttyUSB0 [--baud 1000000]] [--joints 6] [--gantry]
 *                    [--watchdog-ms 100] [--torque-off-ms 2000]
 *
 * The first line on stdout is the port a host opens (like `vla-lite sim-arm --pty`); a description goes to
 * stderr. SIGINT or SIGTERM ends it with status 0; bad arguments exit 2 naming the value. One loop: wait up to
 * 1 ms for bytes, feed them to the parser and controller, step the simulated joints, tick the controller. */
#define _DEFAULT_SOURCE /* cfmakeraw, posix_openpt */
#define _XOPEN_SOURCE 600

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sim_joints.h"

typedef struct {
    sim_arm arm;
    int fd;                 /* pty master or the serial device */
    unsigned long dropped;  /* bytes the line would not take (no reader): dropped like a full UART */
} app;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int signum) {
    (void)signum;
    stop_requested = 1;
}

static uint64_t monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void hook_write(void *ctx, const uint8_t *bytes, size_t len) {
    app *a = (app *)ctx;
    while (len) {
        ssize_t n = write(a->fd, bytes, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            a->dropped += (unsigned long)len;
            return;
        }
        bytes += n;
        len -= (size_t)n;
    }
}

static void hook_read(void *ctx, float *p, float *v, float *e, uint8_t n) {
    sim_read_joints(&((app *)ctx)->arm, p, v, e, n);
}
static void hook_position(void *ctx, const float *t, uint8_t n) { sim_position_target(&((app *)ctx)->arm, t, n); }
static void hook_velocity(void *ctx, const float *t, uint8_t n) { sim_velocity_target(&((app *)ctx)->arm, t, n); }
static void hook_hold(void *ctx) { sim_hold(&((app *)ctx)->arm); }
static void hook_torque(void *ctx, int on) { sim_torque(&((app *)ctx)->arm, on); }
static int hook_ee(void *ctx, const float *p, const float *d, uint8_t n, float *out, const char **why) {
    return sim_ee_delta(&((app *)ctx)->arm, p, d, n, out, why);
}

/* Raw mode before anything is written: no echo, no line discipline, 0x03 is a byte like any other. */
static int make_raw(int fd, long baud) {
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) return -1;
    cfmakeraw(&tio);
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (baud) {
        speed_t s;
        switch (baud) {
        case 115200: s = B115200; break;
        case 230400: s = B230400; break;
#ifdef B460800
        case 460800: s = B460800; break;
#endif
#ifdef B921600
        case 921600: s = B921600; break;
#endif
#ifdef B1000000
        case 1000000: s = B1000000; break;
#endif
        default: errno = EINVAL; return -2;
        }
        cfsetispeed(&tio, s);
        cfsetospeed(&tio, s);
    }
    return tcsetattr(fd, TCSANOW, &tio);
}

/* A new pty; the slave stays open here so a host closing and reopening it changes nothing. */
static int open_pty(char *path, size_t cap) {
    int master = posix_openpt(O_RDWR | O_NOCTTY), slave;
    const char *name;
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || (name = ptsname(master)) == NULL) return -1;
    if (strlen(name) >= cap) return -1;
    strcpy(path, name);
    slave = open(path, O_RDWR | O_NOCTTY);
    if (slave < 0 || make_raw(slave, 0) != 0) return -1;
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    return master;
}

static long int_arg(const char *flag, const char *value, long lo, long hi) {
    char *end = NULL;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *value == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "posix_controller: %s must be an integer in %ld..%ld, got %s\n", flag, lo, hi,
                value ? value : "nothing");
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    static app a;
    static vla_controller ctl;
    static vla_parser parser;
    const char *port = NULL;
    long joints = 6, watchdog_ms = 100, torque_off_ms = 2000, baud = 1000000;
    int gantry = 0, i;
    char path[256], why[160];
    uint64_t last_us;
    vla_hooks hooks;
    struct sigaction sa;

    for (i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--gantry") == 0) { gantry = 1; continue; }
        if (strcmp(flag, "--pty") == 0) continue;
        i++;
        if (strcmp(flag, "--port") == 0) {
            if (!value || value[0] == '\0') {
                fprintf(stderr, "posix_controller: --port needs a device path\n");
                return 2;
            }
            port = value;
        }
        else if (strcmp(flag, "--baud") == 0) baud = int_arg(flag, value, 1, 4000000);
        else if (strcmp(flag, "--joints") == 0) joints = int_arg(flag, value, 1, 31);
        else if (strcmp(flag, "--watchdog-ms") == 0) watchdog_ms = int_arg(flag, value, 1, 65535);
        else if (strcmp(flag, "--torque-off-ms") == 0) torque_off_ms = int_arg(flag, value, 0, 65535);
        else {
            fprintf(stderr, "posix_controller: unknown argument %s (expected --port PATH, --baud N, --joints N, "
                            "--gantry, --watchdog-ms MS, --torque-off-ms MS)\n", flag);
            return 2;
        }
    }
    sim_arm_init(&a.arm, (int)joints, gantry, (uint16_t)watchdog_ms, (uint16_t)torque_off_ms);
    if (port) {
        a.fd = open(port, O_RDWR | O_NOCTTY | O_NONBLOCK);
        if (a.fd < 0 || make_raw(a.fd, baud) != 0) {
            fprintf(stderr, "posix_controller: cannot use %s at %ld baud: %s\n", port, baud, strerror(errno));
            return 2;
        }
        snprintf(path, sizeof path, "%s", port);
    } else if ((a.fd = open_pty(path, sizeof path)) < 0) {
        fprintf(stderr, "posix_controller: cannot open a pty: %s\n", strerror(errno));
        return 1;
    }
    hooks.ctx = &a;
    hooks.write = hook_write;
    hooks.read_joints = hook_read;
    hooks.position_target = hook_position;
    hooks.velocity_target = hook_velocity;
    hooks.hold = hook_hold;
    hooks.torque = hook_torque;
    hooks.ee_delta = gantry ? hook_ee : NULL;
    last_us = monotonic_us();
    if (vla_controller_init(&ctl, &a.arm.cfg, &hooks, last_us, why, sizeof why) != 0) {
        fprintf(stderr, "posix_controller: bad configuration: %s\n", why);
        return 2;
    }
    vla_parser_init(&parser);
    printf("%s\n", path); /* first stdout line: what a host opens */
    fflush(stdout);
    fprintf(stderr, "posix_controller: %u joints, watchdog %ld ms, torque off %ld ms; protocol 1.0 schema "
                    "0x%08lX; on %s\n", a.arm.cfg.n_joints, watchdog_ms, torque_off_ms,
            (unsigned long)VLA_SCHEMA_HASH, path);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    while (!stop_requested) {
        struct pollfd pfd;
        uint8_t buf[4096];
        uint64_t now_us;
        ssize_t n = 0, k;
        pfd.fd = a.fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 1) > 0) {
            if (pfd.revents & POLLIN) {
                n = read(a.fd, buf, sizeof buf);
            } else if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) { /* a device that went away */
                fprintf(stderr, "posix_controller: %s hung up\n", path);
                return 1;
            }
        }
        now_us = monotonic_us();
        sim_arm_step(&a.arm, (double)(now_us - last_us) * 1e-6);
        last_us = now_us;
        for (k = 0; k < n; k++) vla_controller_feed_byte(&ctl, &parser, buf[k], now_us);
        vla_controller_tick(&ctl, now_us);
    }
    fprintf(stderr, "posix_controller: %lu frames in, %lu dropped; %lu frames out, %lu bytes not taken\n",
            (unsigned long)parser.stats.frames, (unsigned long)vla_parser_dropped(&parser.stats),
            (unsigned long)ctl.frames_sent, a.dropped);
    return 0;
}
