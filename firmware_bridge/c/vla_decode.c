/* Message decoding (PROTOCOL.md §2), the schema text and string helpers. Every read is bounds-checked: a short or
 * overlong payload is VLA_ERR_PAYLOAD, never an out-of-range access. The checks mirror protocol.py, so both sides
 * accept exactly the same frames. */
#include "vla_protocol.h"

#include <string.h>

const char VLA_SCHEMA_TEXT[] =
    "HELLO 1 u32 schema_hash;str8 client\n"
    "HELLO_ACK 2 u32 schema_hash;u8 fw_major;u8 fw_minor;u8 fw_patch;u8 modes;f32 max_rate_hz;u16 watchdog_ms;"
    "u16 torque_off_ms;u8 n_joints;str8 name;joint[n_joints]{str8 name;u8 unit;f32 pos_min;f32 pos_max;"
    "f32 vel_max;f32 acc_max;f32 effort_max}\n"
    "COMMAND 3 u8 mode;u8 n;u16 valid_ms;f32[n] target\n"
    "STATE 4 u32 ack_seq;u64 time_us;u16 status;u16 faults;u8 n;f32[n] position;f32[n] velocity;f32[n] effort\n"
    "HEARTBEAT 5\n"
    "ESTOP 6\n"
    "CLEAR_FAULT 7 u16 mask\n"
    "TORQUE 8 u8 enable\n"
    "LOG 9 u8 level;u16 code;str8 text\n";

vla_str vla_str_from(const char *s) {
    vla_str out;
    size_t n = strlen(s);
    out.data = (const uint8_t *)s;
    out.len = (uint8_t)(n > 255u ? 255u : n);
    return out;
}

int vla_utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i], lo = 0x80, hi = 0xBF;
        size_t more, k;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) more = 1;
        else if (c >= 0xE0 && c <= 0xEF) more = 2;
        else if (c >= 0xF0 && c <= 0xF4) more = 3;
        else return 0; /* continuation byte, overlong lead C0/C1, or beyond U+10FFFF */
        if (c == 0xE0) lo = 0xA0;      /* overlong 3-byte */
        else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
        else if (c == 0xF0) lo = 0x90; /* overlong 4-byte */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        if (len - i <= more) return 0;
        for (k = 1; k <= more; k++) {
            uint8_t d = s[i + k];
            if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) return 0;
        }
        i += more + 1;
    }
    return 1;
}

/* --- decoding ------------------------------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    int ok; /* 0 after any read past the end */
} reader;

static const uint8_t *take(reader *r, size_t n) {
    const uint8_t *p;
    if (!r->ok || n > r->len - r->pos) {
        r->ok = 0;
        return NULL;
    }
    p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static uint8_t rd_u8(reader *r) { const uint8_t *p = take(r, 1); return p ? p[0] : 0; }
static uint16_t rd_u16(reader *r) { const uint8_t *p = take(r, 2); return p ? vla_get_u16(p) : 0; }
static uint32_t rd_u32(reader *r) { const uint8_t *p = take(r, 4); return p ? vla_get_u32(p) : 0; }
static uint64_t rd_u64(reader *r) { const uint8_t *p = take(r, 8); return p ? vla_get_u64(p) : 0; }
static float rd_f32(reader *r) { const uint8_t *p = take(r, 4); return p ? vla_get_f32(p) : 0.0f; }

static vla_str rd_str8(reader *r) {
    vla_str s;
    s.len = rd_u8(r);
    s.data = (s.len > VLA_MAX_STR) ? NULL : take(r, s.len);
    if (s.len > VLA_MAX_STR || (s.data != NULL && !vla_utf8_valid(s.data, s.len))) r->ok = 0;
    return s;
}

static void rd_f32s(reader *r, float *out, uint8_t n, uint8_t keep) {
    uint8_t i;
    for (i = 0; i < n; i++) {
        float v = rd_f32(r);
        if (i < keep) out[i] = v;
    }
}

static void dec_hello_ack(reader *r, vla_msg *msg) {
    vla_hello_ack *m = &msg->u.hello_ack;
    uint8_t i;
    m->schema_hash = rd_u32(r);
    m->fw_major = rd_u8(r);
    m->fw_minor = rd_u8(r);
    m->fw_patch = rd_u8(r);
    m->modes = rd_u8(r);
    m->max_rate_hz = rd_f32(r);
    m->watchdog_ms = rd_u16(r);
    m->torque_off_ms = rd_u16(r);
    m->n_joints = rd_u8(r);
    if (m->n_joints < 1 || m->n_joints > VLA_MAX_JOINTS) r->ok = 0;
    m->name = rd_str8(r);
    m->joints = msg->joint_store;
    for (i = 0; r->ok && i < m->n_joints; i++) {
        vla_joint_info *j = &msg->joint_store[i];
        j->name = rd_str8(r);
        j->unit = rd_u8(r);
        if (j->unit > VLA_UNIT_FRACTION) r->ok = 0;
        j->pos_min = rd_f32(r);
        j->pos_max = rd_f32(r);
        j->vel_max = rd_f32(r);
        j->acc_max = rd_f32(r);
        j->effort_max = rd_f32(r);
    }
}

static vla_result dec_payload(reader *r, vla_msg *msg) {
    msg->type = r->buf[2];
    switch (msg->type) {
    case VLA_HELLO:
        msg->u.hello.schema_hash = rd_u32(r);
        msg->u.hello.client = rd_str8(r);
        break;
    case VLA_HELLO_ACK:
        dec_hello_ack(r, msg);
        break;
    case VLA_COMMAND: {
        vla_command *m = &msg->u.command;
        m->mode = rd_u8(r);
        m->n = rd_u8(r);
        m->valid_ms = rd_u16(r);
        rd_f32s(r, m->target, m->n, (uint8_t)(m->n < VLA_MAX_JOINTS ? m->n : VLA_MAX_JOINTS));
        break;
    }
    case VLA_STATE: {
        vla_state *m = &msg->u.state;
        m->ack_seq = rd_u32(r);
        m->time_us = rd_u64(r);
        m->status = rd_u16(r);
        m->faults = rd_u16(r);
        m->n = rd_u8(r);
        if (m->n > VLA_MAX_JOINTS) r->ok = 0; /* no arm has more: not a state this side can hold */
        rd_f32s(r, m->position, m->n, m->n);
        rd_f32s(r, m->velocity, m->n, m->n);
        rd_f32s(r, m->effort, m->n, m->n);
        break;
    }
    case VLA_HEARTBEAT:
    case VLA_ESTOP:
        break;
    case VLA_CLEAR_FAULT:
        msg->u.clear_fault_mask = rd_u16(r);
        break;
    case VLA_TORQUE:
        msg->u.torque_enable = (uint8_t)(rd_u8(r) != 0);
        break;
    case VLA_LOG:
        msg->u.log.level = rd_u8(r);
        msg->u.log.code = rd_u16(r);
        msg->u.log.text = rd_str8(r);
        break;
    default:
        return VLA_ERR_UNKNOWN_TYPE;
    }
    return (r->ok && r->pos == r->len) ? VLA_OK : VLA_ERR_PAYLOAD;
}

vla_result vla_decode_body(const uint8_t *body, size_t len, vla_header *hdr, vla_msg *msg) {
    reader r;
    if (len < VLA_HEADER_SIZE) return VLA_ERR_SHORT;
    hdr->major = body[0];
    hdr->minor = body[1];
    hdr->type = body[2];
    hdr->flags = body[3];
    hdr->seq = vla_get_u32(body + 4);
    if (hdr->major != VLA_PROTOCOL_MAJOR) return VLA_FOREIGN; /* its payload layout is not ours to read */
    r.buf = body;
    r.len = len;
    r.pos = VLA_HEADER_SIZE;
    r.ok = 1;
    return dec_payload(&r, msg);
}

vla_result vla_decode(const uint8_t *frame, size_t len, vla_header *hdr, vla_msg *msg) {
    size_t body;
    if (len < VLA_MIN_FRAME) return VLA_ERR_SHORT;
    body = len - VLA_CRC_SIZE;
    if (vla_crc32c(frame, body, 0) != vla_get_u32(frame + body)) return VLA_ERR_CRC;
    return vla_decode_body(frame, body, hdr, msg);
}
