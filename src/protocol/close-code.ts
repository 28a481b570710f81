/**
 * Close codes (RFC 6455, section 7.4.1; IANA WebSocket Close Code Number
 * Registry), as the `CloseCode` object users see and as plain constants:
 * the library's own code uses the constants, which a bundler inlines, so
 * that bundles which don't export `CloseCode` leave the object (and its
 * member names) out.
 */

export const NORMAL_CLOSURE = 1000;
export const GOING_AWAY = 1001;
export const PROTOCOL_ERROR = 1002;
export const UNSUPPORTED_DATA = 1003;
// 1004 is reserved.
/** Never sent on the wire: stands for a close frame without a code. */
export const NO_STATUS_RCVD = 1005;
/** Never sent on the wire: stands for a connection closed without a close frame. */
export const ABNORMAL_CLOSURE = 1006;
export const INVALID_DATA = 1007;
export const POLICY_VIOLATION = 1008;
export const MESSAGE_TOO_BIG = 1009;
export const MANDATORY_EXTENSION = 1010;
export const INTERNAL_ERROR = 1011;
export const SERVICE_RESTART = 1012;
export const TRY_AGAIN_LATER = 1013;
export const BAD_GATEWAY = 1014;
/** Never sent on the wire: stands for a failed TLS handshake. */
export const TLS_HANDSHAKE = 1015;

/** Close codes (RFC 6455, section 7.4.1; IANA WebSocket Close Code Number Registry). */
export const CloseCode = {
  NORMAL_CLOSURE,
  GOING_AWAY,
  PROTOCOL_ERROR,
  UNSUPPORTED_DATA,
  /** Never sent on the wire: stands for a close frame without a code. */
  NO_STATUS_RCVD,
  /** Never sent on the wire: stands for a connection closed without a close frame. */
  ABNORMAL_CLOSURE,
  INVALID_DATA,
  POLICY_VIOLATION,
  MESSAGE_TOO_BIG,
  MANDATORY_EXTENSION,
  INTERNAL_ERROR,
  SERVICE_RESTART,
  TRY_AGAIN_LATER,
  BAD_GATEWAY,
  /** Never sent on the wire: stands for a failed TLS handshake. */
  TLS_HANDSHAKE,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
