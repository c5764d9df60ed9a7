// Descriptors for the protocomm, Wi-Fi provisioning and RainMaker messages. They mirror the
// .proto files in ./proto/ (written from shared/reference/esp-provisioning.md §3–4), which the
// Node tests load with protobufjs to cross-check this codec.
import type { FieldDef, MessageDef, ScalarType } from "./codec.js";

function msg(name: string, fields: readonly [number, string, ScalarType | MessageDef, string?][]): MessageDef {
  return {
    name,
    fields: fields.map(([no, fieldName, type, oneof]): FieldDef => (oneof === "repeated" ? { no, name: fieldName, type, repeated: true } : oneof !== undefined ? { no, name: fieldName, type, oneof } : { no, name: fieldName, type })),
  };
}

const Empty = (name: string): MessageDef => msg(name, []);

/** constants.proto Status */
export const Status = { Success: 0, InvalidSecScheme: 1, InvalidProto: 2, TooManySessions: 3, InvalidArgument: 4, InternalError: 5, CryptoError: 6, InvalidSession: 7 } as const;

// ---- session.proto
export const S0SessionCmd = Empty("S0SessionCmd");
export const S0SessionResp = msg("S0SessionResp", [[1, "status", "enum"]]);
export const Sec0Payload = msg("Sec0Payload", [[1, "msg", "enum"], [20, "sc", S0SessionCmd, "payload"], [21, "sr", S0SessionResp, "payload"]]);

export const SessionCmd0 = msg("SessionCmd0", [[1, "client_pubkey", "bytes"]]);
export const SessionResp0 = msg("SessionResp0", [[1, "status", "enum"], [2, "device_pubkey", "bytes"], [3, "device_random", "bytes"]]);
export const SessionCmd1 = msg("SessionCmd1", [[2, "client_verify_data", "bytes"]]);
export const SessionResp1 = msg("SessionResp1", [[1, "status", "enum"], [3, "device_verify_data", "bytes"]]);
export const Sec1Payload = msg("Sec1Payload", [[1, "msg", "enum"], [20, "sc0", SessionCmd0, "payload"], [21, "sr0", SessionResp0, "payload"], [22, "sc1", SessionCmd1, "payload"], [23, "sr1", SessionResp1, "payload"]]);

export const S2SessionCmd0 = msg("S2SessionCmd0", [[1, "client_username", "bytes"], [2, "client_pubkey", "bytes"]]);
export const S2SessionResp0 = msg("S2SessionResp0", [[1, "status", "enum"], [2, "device_pubkey", "bytes"], [3, "device_salt", "bytes"]]);
export const S2SessionCmd1 = msg("S2SessionCmd1", [[1, "client_proof", "bytes"]]);
export const S2SessionResp1 = msg("S2SessionResp1", [[1, "status", "enum"], [2, "device_proof", "bytes"], [3, "device_nonce", "bytes"]]);
export const Sec2Payload = msg("Sec2Payload", [[1, "msg", "enum"], [20, "sc0", S2SessionCmd0, "payload"], [21, "sr0", S2SessionResp0, "payload"], [22, "sc1", S2SessionCmd1, "payload"], [23, "sr1", S2SessionResp1, "payload"]]);

export const SessionData = msg("SessionData", [[2, "sec_ver", "enum"], [10, "sec0", Sec0Payload, "proto"], [11, "sec1", Sec1Payload, "proto"], [12, "sec2", Sec2Payload, "proto"]]);

// ---- network.proto (Wi-Fi config / scan / ctrl)
export const WifiStationState = { Connected: 0, Connecting: 1, Disconnected: 2, ConnectionFailed: 3 } as const;
export const WifiConnectFailedReason = { AuthError: 0, NetworkNotFound: 1 } as const;
export const WifiConnectedState = msg("WifiConnectedState", [[1, "ip4_addr", "string"], [2, "auth_mode", "enum"], [3, "ssid", "bytes"], [4, "bssid", "bytes"], [5, "channel", "int32"]]);
export const WifiAttemptFailed = msg("WifiAttemptFailed", [[1, "attempts_remaining", "uint32"]]);
export const RespGetStatus = msg("RespGetStatus", [[1, "status", "enum"], [2, "sta_state", "enum"], [10, "fail_reason", "enum", "state"], [11, "connected", WifiConnectedState, "state"], [12, "attempt_failed", WifiAttemptFailed, "state"]]);
export const CmdSetConfig = msg("CmdSetConfig", [[1, "ssid", "bytes"], [2, "passphrase", "bytes"], [3, "bssid", "bytes"], [4, "channel", "int32"]]);
export const RespStatusOnly = (name: string): MessageDef => msg(name, [[1, "status", "enum"]]);
export const WiFiConfigPayload = msg("WiFiConfigPayload", [
  [1, "msg", "enum"],
  [10, "cmd_get_status", Empty("CmdGetStatus"), "payload"],
  [11, "resp_get_status", RespGetStatus, "payload"],
  [12, "cmd_set_config", CmdSetConfig, "payload"],
  [13, "resp_set_config", RespStatusOnly("RespSetConfig"), "payload"],
  [14, "cmd_apply_config", Empty("CmdApplyConfig"), "payload"],
  [15, "resp_apply_config", RespStatusOnly("RespApplyConfig"), "payload"],
]);
export const ConfigMsg = { CmdGetStatus: 0, RespGetStatus: 1, CmdSetConfig: 2, RespSetConfig: 3, CmdApplyConfig: 4, RespApplyConfig: 5 } as const;

export const CmdScanStart = msg("CmdScanStart", [[1, "blocking", "bool"], [2, "passive", "bool"], [3, "group_channels", "uint32"], [4, "period_ms", "uint32"]]);
export const RespScanStatus = msg("RespScanStatus", [[1, "scan_finished", "bool"], [2, "result_count", "uint32"]]);
export const CmdScanResult = msg("CmdScanResult", [[1, "start_index", "uint32"], [2, "count", "uint32"]]);
export const WiFiScanResult = msg("WiFiScanResult", [[1, "ssid", "bytes"], [2, "channel", "uint32"], [3, "rssi", "int32"], [4, "bssid", "bytes"], [5, "auth", "enum"]]);
export const RespScanResult = msg("RespScanResult", [[1, "entries", WiFiScanResult, "repeated"]]);
export const WiFiScanPayload = msg("WiFiScanPayload", [
  [1, "msg", "enum"],
  [2, "status", "enum"],
  [10, "cmd_scan_start", CmdScanStart, "payload"],
  [11, "resp_scan_start", Empty("RespScanStart"), "payload"],
  [12, "cmd_scan_status", Empty("CmdScanStatus"), "payload"],
  [13, "resp_scan_status", RespScanStatus, "payload"],
  [14, "cmd_scan_result", CmdScanResult, "payload"],
  [15, "resp_scan_result", RespScanResult, "payload"],
]);
export const ScanMsg = { CmdScanStart: 0, RespScanStart: 1, CmdScanStatus: 2, RespScanStatus: 3, CmdScanResult: 4, RespScanResult: 5 } as const;

export const WiFiCtrlPayload = msg("WiFiCtrlPayload", [
  [1, "msg", "enum"],
  [2, "status", "enum"],
  [11, "cmd_ctrl_reset", Empty("CmdCtrlReset"), "payload"],
  [12, "resp_ctrl_reset", Empty("RespCtrlReset"), "payload"],
  [13, "cmd_ctrl_reprov", Empty("CmdCtrlReprov"), "payload"],
  [14, "resp_ctrl_reprov", Empty("RespCtrlReprov"), "payload"],
]);
export const CtrlMsg = { Reserved: 0, CmdCtrlReset: 1, RespCtrlReset: 2, CmdCtrlReprov: 3, RespCtrlReprov: 4 } as const;

// ---- rainmaker.proto
export const CmdSetUserMapping = msg("CmdSetUserMapping", [[1, "UserID", "string"], [2, "SecretKey", "string"]]);
export const RespSetUserMapping = msg("RespSetUserMapping", [[1, "Status", "enum"], [2, "NodeId", "string"]]);
export const RMakerConfigPayload = msg("RMakerConfigPayload", [[1, "msg", "enum"], [10, "cmd_set_user_mapping", CmdSetUserMapping, "payload"], [11, "resp_set_user_mapping", RespSetUserMapping, "payload"]]);
export const RMakerConfigStatus = { Success: 0, InvalidParam: 1, InvalidState: 2 } as const;

export const RMakerChRespPayload = msg("RMakerChRespPayload", [
  [1, "msg", "enum"],
  [2, "status", "enum"],
  [10, "cmdChallengeResponsePayload", msg("CmdCRPayload", [[1, "payload", "bytes"]]), "payload"],
  [11, "respChallengeResponsePayload", msg("RespCRPayload", [[1, "payload", "bytes"], [2, "node_id", "string"]]), "payload"],
  [12, "cmdGetNodeIDPayload", Empty("CmdGetNodeIDPayload"), "payload"],
  [13, "respGetNodeIDPayload", msg("RespGetNodeIDPayload", [[1, "node_id", "string"]]), "payload"],
  [14, "cmdDisableChalRespPayload", Empty("CmdDisableChalRespPayload"), "payload"],
  [15, "respDisableChalRespPayload", Empty("RespDisableChalRespPayload"), "payload"],
]);
export const ChRespMsg = { CmdChallengeResponse: 0, RespChallengeResponse: 1, CmdGetNodeID: 2, RespGetNodeID: 3, CmdDisableChalResp: 4, RespDisableChalResp: 5 } as const;
export const ChRespStatus = { Success: 0, Fail: 1, InvalidParam: 2, Disabled: 3 } as const;

/** Every top-level message with the name it has in ./proto/ (for the protobufjs cross-check). */
export const ALL_MESSAGES: readonly MessageDef[] = [SessionData, WiFiConfigPayload, WiFiScanPayload, WiFiCtrlPayload, RMakerConfigPayload, RMakerChRespPayload];
