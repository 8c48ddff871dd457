/* Golden vectors in C. pytest turns golden_vectors.json into lines on stdin (JSON parsing in C is a burden):
 *
 *   crc <input hex> <crc>                 vla_crc32c of the input must be crc
 *   schema <hash>                         CRC-32C of VLA_SCHEMA_TEXT and VLA_SCHEMA_HASH must both be hash
 *   valid <name> <seq> <frame hex> <type> <field>...   fields in wire order: integers in decimal, floats as
 *                                         f<8 hex digits of the f32 bits>, strings as s<hex of the UTF-8 bytes>
 *   invalid <name> <reason> <frame hex> [<major> <minor>]   reason: crc, cobs, short, foreign_version
 *
 * A valid vector is built from its fields and must encode to the frame byte for byte; the frame must decode
 * (one shot, and byte by byte through the parser) to exactly those fields. An invalid vector must be dropped and
 * counted under its reason (a foreign major is reported with its version). Prints `ok <name>` or
 * `FAIL <name>: <why>` per line; exit status 1 if anything failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vla_lite.h"

static uint8_t pool[16384]; /* string bytes of the current line */
static size_t pool_used;

static const char *tok(void) {
    const char *t = strtok(NULL, " \n");
    return t ? t : "";
}
static unsigned long long tok_u(void) { return strtoull(tok(), NULL, 10); }
static float tok_f(void) {
    const char *t = tok();
    return vla_f32_from_bits((uint32_t)strtoul(t[0] == 'f' ? t + 1 : "0", NULL, 16));
}

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    unsigned v;
    while (s[0] && s[1] && n < cap && sscanf(s, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static vla_str tok_s(void) {
    const char *t = tok();
    vla_str s;
    s.data = pool + pool_used;
    s.len = (uint8_t)unhex(t[0] == 's' ? t + 1 : "", pool + pool_used, 255);
    pool_used += s.len;
    return s;
}

static void read_fields(vla_msg *m, vla_joint_info *joints) {
    uint8_t i;
    switch (m->type) {
    case VLA_HELLO:
        m->u.hello.schema_hash = (uint32_t)tok_u();
        m->u.hello.client = tok_s();
        break;
    case VLA_HELLO_ACK: {
        vla_hello_ack *a = &m->u.hello_ack;
        a->schema_hash = (uint32_t)tok_u();
        a->fw_major = (uint8_t)tok_u();
        a->fw_minor = (uint8_t)tok_u();
        a->fw_patch = (uint8_t)tok_u();
        a->modes = (uint8_t)tok_u();
        a->max_rate_hz = tok_f();
        a->watchdog_ms = (uint16_t)tok_u();
        a->torque_off_ms = (uint16_t)tok_u();
        a->n_joints = (uint8_t)tok_u();
        a->name = tok_s();
        for (i = 0; i < a->n_joints && i < VLA_MAX_JOINTS; i++) {
            joints[i].name = tok_s();
            joints[i].unit = (uint8_t)tok_u();
            joints[i].pos_min = tok_f();
            joints[i].pos_max = tok_f();
            joints[i].vel_max = tok_f();
            joints[i].acc_max = tok_f();
            joints[i].effort_max = tok_f();
        }
        a->joints = joints;
        break;
    }
    case VLA_COMMAND:
        m->u.command.mode = (uint8_t)tok_u();
        m->u.command.n = (uint8_t)tok_u();
        m->u.command.valid_ms = (uint16_t)tok_u();
        for (i = 0; i < m->u.command.n && i < VLA_MAX_JOINTS; i++) m->u.command.target[i] = tok_f();
        break;
    case VLA_STATE: {
        vla_state *s = &m->u.state;
        s->ack_seq = (uint32_t)tok_u();
        s->time_us = tok_u();
        s->status = (uint16_t)tok_u();
        s->faults = (uint16_t)tok_u();
        s->n = (uint8_t)tok_u();
        for (i = 0; i < s->n && i < VLA_MAX_JOINTS; i++) s->position[i] = tok_f();
        for (i = 0; i < s->n && i < VLA_MAX_JOINTS; i++) s->velocity[i] = tok_f();
        for (i = 0; i < s->n && i < VLA_MAX_JOINTS; i++) s->effort[i] = tok_f();
        break;
    }
    case VLA_CLEAR_FAULT: m->u.clear_fault_mask = (uint16_t)tok_u(); break;
    case VLA_TORQUE: m->u.torque_enable = (uint8_t)tok_u(); break;
    case VLA_LOG:
        m->u.log.level = (uint8_t)tok_u();
        m->u.log.code = (uint16_t)tok_u();
        m->u.log.text = tok_s();
        break;
    default: break;
    }
}

/* Field-by-field equality; floats by bit pattern. Returns the first differing field, or NULL. */
static int str_eq(vla_str a, vla_str b) { return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0); }
static int f_eq(float a, float b) { return vla_f32_bits(a) == vla_f32_bits(b); }
static int fs_eq(const float *a, const float *b, uint8_t n) {
    uint8_t i;
    for (i = 0; i < n; i++) if (!f_eq(a[i], b[i])) return 0;
    return 1;
}

static const char *differs(const vla_msg *a, const vla_msg *b) {
    uint8_t i;
    if (a->type != b->type) return "type";
    switch (a->type) {
    case VLA_HELLO:
        if (a->u.hello.schema_hash != b->u.hello.schema_hash) return "schema_hash";
        return str_eq(a->u.hello.client, b->u.hello.client) ? NULL : "client";
    case VLA_HELLO_ACK: {
        const vla_hello_ack *x = &a->u.hello_ack, *y = &b->u.hello_ack;
        if (x->schema_hash != y->schema_hash) return "schema_hash";
        if (x->fw_major != y->fw_major || x->fw_minor != y->fw_minor || x->fw_patch != y->fw_patch) return "firmware";
        if (x->modes != y->modes) return "modes";
        if (!f_eq(x->max_rate_hz, y->max_rate_hz)) return "max_rate_hz";
        if (x->watchdog_ms != y->watchdog_ms || x->torque_off_ms != y->torque_off_ms) return "watchdog/torque_off";
        if (x->n_joints != y->n_joints) return "n_joints";
        if (!str_eq(x->name, y->name)) return "name";
        for (i = 0; i < x->n_joints; i++) {
            const vla_joint_info *p = &x->joints[i], *q = &y->joints[i];
            if (!str_eq(p->name, q->name)) return "joint name";
            if (p->unit != q->unit) return "joint unit";
            if (!f_eq(p->pos_min, q->pos_min) || !f_eq(p->pos_max, q->pos_max) || !f_eq(p->vel_max, q->vel_max) ||
                !f_eq(p->acc_max, q->acc_max) || !f_eq(p->effort_max, q->effort_max)) return "joint limits";
        }
        return NULL;
    }
    case VLA_COMMAND: {
        const vla_command *x = &a->u.command, *y = &b->u.command;
        if (x->mode != y->mode || x->n != y->n || x->valid_ms != y->valid_ms) return "mode/n/valid_ms";
        return fs_eq(x->target, y->target, x->n) ? NULL : "target";
    }
    case VLA_STATE: {
        const vla_state *x = &a->u.state, *y = &b->u.state;
        if (x->ack_seq != y->ack_seq || x->time_us != y->time_us) return "ack_seq/time_us";
        if (x->status != y->status || x->faults != y->faults || x->n != y->n) return "status/faults/n";
        if (!fs_eq(x->position, y->position, x->n)) return "position";
        if (!fs_eq(x->velocity, y->velocity, x->n)) return "velocity";
        return fs_eq(x->effort, y->effort, x->n) ? NULL : "effort";
    }
    case VLA_CLEAR_FAULT: return a->u.clear_fault_mask == b->u.clear_fault_mask ? NULL : "mask";
    case VLA_TORQUE: return a->u.torque_enable == b->u.torque_enable ? NULL : "enable";
    case VLA_LOG:
        if (a->u.log.level != b->u.log.level || a->u.log.code != b->u.log.code) return "level/code";
        return str_eq(a->u.log.text, b->u.log.text) ? NULL : "text";
    default: return NULL;
    }
}

static vla_msg expected, decoded;
static vla_parser parser;
static vla_joint_info joints[VLA_MAX_JOINTS];

static const char *check_valid(uint32_t seq, const uint8_t *frame, size_t len) {
    static uint8_t out[VLA_MAX_WIRE + 16], raw[VLA_MAX_ENCODED];
    vla_header h, eh;
    const char *why;
    long raw_len;
    size_t n, i, delivered = 0;
    eh.major = VLA_PROTOCOL_MAJOR;
    eh.minor = VLA_PROTOCOL_MINOR;
    eh.flags = 0;
    eh.seq = seq;
    n = vla_encode_msg(out, sizeof out, &eh, &expected);
    if (n != len || memcmp(out, frame, len) != 0) return "encoding from the fields differs from the frame";
    if (len < 2 || frame[len - 1] != 0) return "frame does not end in the 0x00 delimiter";
    raw_len = vla_cobs_decode(frame, len - 1, raw, sizeof raw);
    if (raw_len < 0) return "COBS decode failed";
    if (vla_decode(raw, (size_t)raw_len, &h, &decoded) != VLA_OK) return "vla_decode refused the frame";
    if (h.seq != seq || h.major != 1 || h.minor != 0 || h.type != expected.type) return "header differs";
    if ((why = differs(&decoded, &expected)) != NULL) return why;
    vla_parser_init(&parser);
    for (i = 0; i < len; i++) {
        if (vla_parser_feed_byte(&parser, frame[i]) == VLA_PARSE_MESSAGE) {
            delivered++;
            if ((why = differs(&parser.msg, &expected)) != NULL) return why;
            if (parser.header.seq != seq) return "parser seq differs";
        }
    }
    if (delivered != 1 || vla_parser_dropped(&parser.stats) != 0) return "parser did not deliver exactly one";
    return NULL;
}

static const char *check_invalid(const char *reason, const uint8_t *frame, size_t len, unsigned long major,
                                 unsigned long minor) {
    const vla_parser_stats *s = &parser.stats;
    size_t i, messages = 0, foreign = 0;
    vla_parser_init(&parser);
    for (i = 0; i < len; i++) {
        vla_parse_result r = vla_parser_feed_byte(&parser, frame[i]);
        messages += r == VLA_PARSE_MESSAGE;
        foreign += r == VLA_PARSE_FOREIGN;
    }
    if (messages) return "a message was delivered";
    if (strcmp(reason, "foreign_version") == 0) {
        if (foreign != 1 || s->foreign_version != 1 || vla_parser_dropped(s) != 0) return "not reported as foreign";
        if (parser.header.major != major || parser.header.minor != minor) return "foreign version differs";
        return NULL;
    }
    if (foreign || vla_parser_dropped(s) != 1) return "not exactly one drop";
    if (strcmp(reason, "crc") == 0) return s->crc_failures == 1 ? NULL : "not counted as a CRC failure";
    if (strcmp(reason, "cobs") == 0) return s->cobs_errors == 1 ? NULL : "not counted as a COBS error";
    if (strcmp(reason, "short") == 0) return s->short_frames == 1 ? NULL : "not counted as short";
    return "unknown reason";
}

int main(void) {
    static char line[65536];
    static uint8_t frame[8192];
    int failed = 0;
    while (fgets(line, sizeof line, stdin)) {
        const char *kind = strtok(line, " \n"), *name = "", *why = NULL;
        size_t len;
        pool_used = 0;
        if (!kind) continue;
        if (strcmp(kind, "crc") == 0) {
            name = "crc32c";
            len = unhex(tok(), frame, sizeof frame);
            if (vla_crc32c(frame, len, 0) != (uint32_t)tok_u()) why = "check value differs";
        } else if (strcmp(kind, "schema") == 0) {
            unsigned long long want = tok_u();
            name = "schema_hash";
            if (vla_crc32c((const uint8_t *)VLA_SCHEMA_TEXT, strlen(VLA_SCHEMA_TEXT), 0) != want ||
                VLA_SCHEMA_HASH != want) why = "schema text or constant differs";
        } else if (strcmp(kind, "valid") == 0) {
            uint32_t seq;
            name = tok();
            seq = (uint32_t)tok_u();
            len = unhex(tok(), frame, sizeof frame);
            memset(&expected, 0, sizeof expected);
            expected.type = (uint8_t)tok_u();
            read_fields(&expected, joints);
            why = check_valid(seq, frame, len);
        } else if (strcmp(kind, "invalid") == 0) {
            const char *reason;
            unsigned long major, minor;
            name = tok();
            reason = tok();
            len = unhex(tok(), frame, sizeof frame);
            major = (unsigned long)tok_u();
            minor = (unsigned long)tok_u();
            why = check_invalid(reason, frame, len, major, minor);
        } else {
            why = "unknown line kind";
        }
        if (why) {
            printf("FAIL %s: %s\n", name, why);
            failed = 1;
        } else {
            printf("ok %s\n", name);
        }
    }
    return failed;
}
