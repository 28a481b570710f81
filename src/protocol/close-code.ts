/** Close codes (RFC 6455, section 7.4.1; IANA WebSocket Close Code Number Registry). */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  // 1004 is reserved.
  /** Never sent on the wire: stands for a close frame without a code. */
  NO_STATUS_RCVD: 1005,
  /** Never sent on the wire: stands for a connection closed without a close frame. */
  ABNORMAL_CLOSURE: 1006,
  INVALID_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Never sent on the wire: stands for a failed TLS handshake. */
  TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
