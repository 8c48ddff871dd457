/* Message encoding (PROTOCOL.md §2): one wire frame per call, built through the streaming writer (CRC and COBS
 * on the way), so no second buffer is needed. A message that is not valid to send encodes to 0 bytes. */
#include "vla_protocol.h"


static void wr_header(vla_writer *w, uint8_t *out, size_t cap, const vla_header *h, uint8_t type) {
    vla_writer_begin(w, out, cap);
    vla_writer_u8(w, h->major);
    vla_writer_u8(w, h->minor);
    vla_writer_u8(w, type);
    vla_writer_u8(w, h->flags);
    vla_writer_u32(w, h->seq);
}

static void wr_header_v1(vla_writer *w, uint8_t *out, size_t cap, uint32_t seq, uint8_t type) {
    vla_header h;
    h.major = VLA_PROTOCOL_MAJOR;
    h.minor = VLA_PROTOCOL_MINOR;
    h.flags = 0;
    h.seq = seq;
    wr_header(w, out, cap, &h, type);
}

static void wr_str8(vla_writer *w, vla_str s) {
    uint8_t i;
    if (s.len > VLA_MAX_STR || (s.len && s.data == NULL) || (s.len && !vla_utf8_valid(s.data, s.len))) {
        w->failed = 1;
        return;
    }
    vla_writer_u8(w, s.len);
    for (i = 0; i < s.len; i++) vla_writer_u8(w, s.data[i]);
}

static void wr_f32s(vla_writer *w, const float *v, uint8_t n) {
    uint8_t i;
    for (i = 0; i < n; i++) vla_writer_f32(w, v[i]);
}

static void wr_hello(vla_writer *w, const vla_hello *m) {
    vla_writer_u32(w, m->schema_hash);
    wr_str8(w, m->client);
}

static void wr_hello_ack(vla_writer *w, const vla_hello_ack *m) {
    uint8_t i;
    if (m->n_joints < 1 || m->n_joints > VLA_MAX_JOINTS || m->joints == NULL) {
        w->failed = 1;
        return;
    }
    vla_writer_u32(w, m->schema_hash);
    vla_writer_u8(w, m->fw_major);
    vla_writer_u8(w, m->fw_minor);
    vla_writer_u8(w, m->fw_patch);
    vla_writer_u8(w, m->modes);
    vla_writer_f32(w, m->max_rate_hz);
    vla_writer_u16(w, m->watchdog_ms);
    vla_writer_u16(w, m->torque_off_ms);
    vla_writer_u8(w, m->n_joints);
    wr_str8(w, m->name);
    for (i = 0; i < m->n_joints; i++) {
        const vla_joint_info *j = &m->joints[i];
        wr_str8(w, j->name);
        vla_writer_u8(w, j->unit);
        vla_writer_f32(w, j->pos_min);
        vla_writer_f32(w, j->pos_max);
        vla_writer_f32(w, j->vel_max);
        vla_writer_f32(w, j->acc_max);
        vla_writer_f32(w, j->effort_max);
    }
}

static void wr_command(vla_writer *w, const vla_command *m) {
    if (m->n > VLA_MAX_JOINTS) {
        w->failed = 1; /* its targets were not all kept when it was decoded */
        return;
    }
    vla_writer_u8(w, m->mode);
    vla_writer_u8(w, m->n);
    vla_writer_u16(w, m->valid_ms);
    wr_f32s(w, m->target, m->n);
}

static void wr_state(vla_writer *w, const vla_state *m) {
    if (m->n > VLA_MAX_JOINTS) {
        w->failed = 1;
        return;
    }
    vla_writer_u32(w, m->ack_seq);
    vla_writer_u64(w, m->time_us);
    vla_writer_u16(w, m->status);
    vla_writer_u16(w, m->faults);
    vla_writer_u8(w, m->n);
    wr_f32s(w, m->position, m->n);
    wr_f32s(w, m->velocity, m->n);
    wr_f32s(w, m->effort, m->n);
}

static void wr_log(vla_writer *w, const vla_log *m) {
    vla_writer_u8(w, m->level);
    vla_writer_u16(w, m->code);
    wr_str8(w, m->text);
}

size_t vla_encode_msg(uint8_t *out, size_t cap, const vla_header *hdr, const vla_msg *msg) {
    vla_writer w;
    wr_header(&w, out, cap, hdr, msg->type);
    switch (msg->type) {
    case VLA_HELLO: wr_hello(&w, &msg->u.hello); break;
    case VLA_HELLO_ACK: wr_hello_ack(&w, &msg->u.hello_ack); break;
    case VLA_COMMAND: wr_command(&w, &msg->u.command); break;
    case VLA_STATE: wr_state(&w, &msg->u.state); break;
    case VLA_HEARTBEAT: break;
    case VLA_ESTOP: break;
    case VLA_CLEAR_FAULT: vla_writer_u16(&w, msg->u.clear_fault_mask); break;
    case VLA_TORQUE: vla_writer_u8(&w, msg->u.torque_enable); break;
    case VLA_LOG: wr_log(&w, &msg->u.log); break;
    default: w.failed = 1; /* not a message of this protocol version */
    }
    return vla_writer_end(&w);
}

/* The typed encoders write protocol 1.0 headers and need no vla_msg (whose joint storage a controller sending
 * STATE has no use for). */
#define ENCODE_V1(type, write_payload)          \
    vla_writer w;                               \
    wr_header_v1(&w, out, cap, seq, (type));    \
    write_payload;                              \
    return vla_writer_end(&w)

size_t vla_encode_hello(uint8_t *out, size_t cap, uint32_t seq, const vla_hello *m) {
    ENCODE_V1(VLA_HELLO, wr_hello(&w, m));
}

size_t vla_encode_hello_ack(uint8_t *out, size_t cap, uint32_t seq, const vla_hello_ack *m) {
    ENCODE_V1(VLA_HELLO_ACK, wr_hello_ack(&w, m));
}

size_t vla_encode_command(uint8_t *out, size_t cap, uint32_t seq, const vla_command *m) {
    ENCODE_V1(VLA_COMMAND, wr_command(&w, m));
}

size_t vla_encode_state(uint8_t *out, size_t cap, uint32_t seq, const vla_state *m) {
    ENCODE_V1(VLA_STATE, wr_state(&w, m));
}

size_t vla_encode_empty(uint8_t *out, size_t cap, uint32_t seq, uint8_t type) {
    if (type != VLA_HEARTBEAT && type != VLA_ESTOP) return 0;
    ENCODE_V1(type, (void)0);
}

size_t vla_encode_clear_fault(uint8_t *out, size_t cap, uint32_t seq, uint16_t mask) {
    ENCODE_V1(VLA_CLEAR_FAULT, vla_writer_u16(&w, mask));
}

size_t vla_encode_torque(uint8_t *out, size_t cap, uint32_t seq, uint8_t enable) {
    ENCODE_V1(VLA_TORQUE, vla_writer_u8(&w, enable));
}

size_t vla_encode_log(uint8_t *out, size_t cap, uint32_t seq, const vla_log *m) {
    ENCODE_V1(VLA_LOG, wr_log(&w, m));
}
