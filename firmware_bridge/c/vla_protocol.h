/* The messages of the vla-lite arm protocol 1.0 (PROTOCOL.md §2): structs, decoding and encoding.
 *
 * Decoding fills a caller's vla_msg; encoding writes one wire frame (COBS, CRC, 0x00) into a caller's buffer of
 * VLA_MAX_WIRE bytes. No heap, no stdio. Strings are vla_str views: when decoded they point into the frame that
 * was decoded (valid while that buffer is), when encoding into the caller's memory. */
#ifndef VLA_PROTOCOL_H
#define VLA_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "vla_framing.h"

#define VLA_PROTOCOL_MAJOR 1u
#define VLA_PROTOCOL_MINOR 0u
#define VLA_SCHEMA_HASH 0x6398315FUL /* CRC-32C of VLA_SCHEMA_TEXT (§4) */
#define VLA_MAX_STR 64u              /* str8 byte limit */
#ifndef VLA_MAX_JOINTS
#define VLA_MAX_JOINTS 32u           /* the protocol's limit; a firmware may build with less to save RAM */
#endif
#if VLA_MAX_JOINTS < 7 || VLA_MAX_JOINTS > 32
#error "VLA_MAX_JOINTS must be 7..32 (EE_DELTA carries up to 7 values; the protocol at most 32 joints)"
#endif

extern const char VLA_SCHEMA_TEXT[]; /* PROTOCOL.md §4, byte for byte */

enum vla_type {
    VLA_HELLO = 1, VLA_HELLO_ACK = 2, VLA_COMMAND = 3, VLA_STATE = 4, VLA_HEARTBEAT = 5,
    VLA_ESTOP = 6, VLA_CLEAR_FAULT = 7, VLA_TORQUE = 8, VLA_LOG = 9
};
enum vla_mode { VLA_MODE_JOINT_POSITION = 1, VLA_MODE_JOINT_VELOCITY = 2, VLA_MODE_EE_DELTA = 3 };
#define VLA_MODE_BIT(mode) (1u << ((mode) - 1u)) /* HELLO_ACK `modes` bit of a mode */
enum vla_unit { VLA_UNIT_RAD = 0, VLA_UNIT_M = 1, VLA_UNIT_FRACTION = 2 };
enum vla_status {
    VLA_STATUS_ENABLED = 1u << 0, VLA_STATUS_HOLDING = 1u << 1, VLA_STATUS_MOVING = 1u << 2,
    VLA_STATUS_ESTOP = 1u << 3, VLA_STATUS_FAULTED = 1u << 4, VLA_STATUS_REJECTED = 1u << 5,
    VLA_STATUS_LINKED = 1u << 6
};
enum vla_fault {
    VLA_FAULT_WATCHDOG = 1u << 0, VLA_FAULT_TORQUE_OFF = 1u << 1, VLA_FAULT_ESTOP = 1u << 2,
    VLA_FAULT_HARDWARE = 1u << 3, VLA_FAULT_VERSION = 1u << 4
};
enum vla_log_code {
    VLA_LOG_WATCHDOG_TRIPPED = 1, VLA_LOG_TORQUE_OFF = 2, VLA_LOG_TARGET_OUT_OF_LIMITS = 3, VLA_LOG_BAD_MODE = 4,
    VLA_LOG_BAD_LENGTH = 5, VLA_LOG_VERSION_MISMATCH = 6, VLA_LOG_REFUSED_WHILE_FAULTED = 7, VLA_LOG_ESTOP = 8,
    VLA_LOG_SCHEMA_MISMATCH = 9
};
enum vla_log_level { VLA_LEVEL_DEBUG = 0, VLA_LEVEL_INFO = 1, VLA_LEVEL_WARNING = 2, VLA_LEVEL_ERROR = 3 };

typedef struct {
    const uint8_t *data; /* UTF-8, no terminator */
    uint8_t len;         /* bytes, at most VLA_MAX_STR */
} vla_str;
#define VLA_STR(literal) {(const uint8_t *)(literal), (uint8_t)(sizeof(literal) - 1u)}
vla_str vla_str_from(const char *nul_terminated); /* len saturates at 255: the encoder then refuses it */
int vla_utf8_valid(const uint8_t *s, size_t len);  /* strict, as Python's decoder: no overlongs, no surrogates */

typedef struct {
    uint8_t major, minor, type, flags;
    uint32_t seq; /* sender's frame counter */
} vla_header;

typedef struct {
    uint32_t schema_hash;
    vla_str client;
} vla_hello;

typedef struct {
    vla_str name;
    uint8_t unit; /* enum vla_unit */
    float pos_min, pos_max; /* rad or m */
    float vel_max;    /* rad/s or m/s */
    float acc_max;    /* rad/s² or m/s² */
    float effort_max; /* N·m or N */
} vla_joint_info;

typedef struct {
    uint32_t schema_hash;
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t modes; /* VLA_MODE_BIT(mode) for each mode accepted */
    float max_rate_hz;
    uint16_t watchdog_ms, torque_off_ms; /* torque_off_ms 0: never */
    uint8_t n_joints;                    /* 1..VLA_MAX_JOINTS */
    vla_str name;
    const vla_joint_info *joints; /* n_joints entries; decoded: points into the vla_msg's joint_store */
} vla_hello_ack;

typedef struct {
    uint8_t mode;      /* enum vla_mode; anything else is refused by a controller */
    uint8_t n;         /* as received; decoded targets beyond VLA_MAX_JOINTS are not stored (such a command */
    uint16_t valid_ms; /* cannot fit any arm, and a controller refuses it for its length before reading them) */
    float target[VLA_MAX_JOINTS]; /* SI: rad or m, rad/s or m/s, or dx dy dz [drx dry drz] gripper */
} vla_command;

typedef struct {
    uint32_t ack_seq;  /* seq of the last COMMAND processed, 0 before the first */
    uint64_t time_us;  /* controller's monotonic clock */
    uint16_t status;   /* enum vla_status bits */
    uint16_t faults;   /* enum vla_fault bits */
    uint8_t n;
    float position[VLA_MAX_JOINTS], velocity[VLA_MAX_JOINTS], effort[VLA_MAX_JOINTS];
} vla_state;

typedef struct {
    uint8_t level; /* enum vla_log_level */
    uint16_t code; /* enum vla_log_code */
    vla_str text;
} vla_log;

typedef struct {
    uint8_t type; /* enum vla_type: which member of u is valid; HEARTBEAT and ESTOP have none */
    union {
        vla_hello hello;
        vla_hello_ack hello_ack;
        vla_command command;
        vla_state state;
        uint16_t clear_fault_mask;
        uint8_t torque_enable; /* decoded as 0 or 1 (any non-zero byte is "on", as in the Python codec) */
        vla_log log;
    } u;
    vla_joint_info joint_store[VLA_MAX_JOINTS]; /* where a decoded HELLO_ACK's joints live */
} vla_msg;

typedef enum {
    VLA_OK = 0,
    VLA_ERR_SHORT = 1,        /* fewer than VLA_MIN_FRAME bytes */
    VLA_ERR_CRC = 2,          /* CRC mismatch */
    VLA_FOREIGN = 3,          /* CRC good, another protocol major: only the header is decoded */
    VLA_ERR_UNKNOWN_TYPE = 4, /* our major, a type this minor does not know: ignore */
    VLA_ERR_PAYLOAD = 5       /* payload length or content does not fit its type */
} vla_result;

/* Decode an unencoded frame (header | payload | crc), as COBS-decoded from the wire. */
vla_result vla_decode(const uint8_t *frame, size_t len, vla_header *hdr, vla_msg *msg);
/* Decode header and payload whose CRC the caller has already checked (body = frame without its CRC). */
vla_result vla_decode_body(const uint8_t *body, size_t len, vla_header *hdr, vla_msg *msg);

/* Encoders: one wire frame of protocol 1.0 with sequence number seq into out (cap >= VLA_MAX_WIRE is always
 * enough). Return the bytes written including the 0x00 delimiter, or 0 when the message is not valid to send
 * (string over 64 bytes or not UTF-8, n_joints/n out of range, frame over VLA_MAX_FRAME, cap too small). */
size_t vla_encode_hello(uint8_t *out, size_t cap, uint32_t seq, const vla_hello *m);
size_t vla_encode_hello_ack(uint8_t *out, size_t cap, uint32_t seq, const vla_hello_ack *m);
size_t vla_encode_command(uint8_t *out, size_t cap, uint32_t seq, const vla_command *m);
size_t vla_encode_state(uint8_t *out, size_t cap, uint32_t seq, const vla_state *m);
size_t vla_encode_empty(uint8_t *out, size_t cap, uint32_t seq, uint8_t type); /* HEARTBEAT, ESTOP */
size_t vla_encode_clear_fault(uint8_t *out, size_t cap, uint32_t seq, uint16_t mask);
size_t vla_encode_torque(uint8_t *out, size_t cap, uint32_t seq, uint8_t enable);
size_t vla_encode_log(uint8_t *out, size_t cap, uint32_t seq, const vla_log *m);
/* Any message with an explicit header (major, minor, flags, seq; the type comes from msg->type). */
size_t vla_encode_msg(uint8_t *out, size_t cap, const vla_header *hdr, const vla_msg *msg);

#endif
