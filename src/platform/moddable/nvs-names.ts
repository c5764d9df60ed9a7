// NVS names (ESP-IDF): a namespace or key is 1–15 characters. The desktop simulator's stores take
// longer ones, so the board config and both stores refuse them: what runs there runs on the board.
export const NVS_NAME_MAX = 15;

export function isNvsName(name: string): boolean {
  return name.length > 0 && name.length <= NVS_NAME_MAX;
}
