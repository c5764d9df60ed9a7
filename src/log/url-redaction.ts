// The one redaction rule for URLs: user-info ("scheme://user:password@host") never reaches a log
// or an error message. Applied by the Logger to every string field and by the URL parsers to the
// input they quote back. Greedy up to the last "@", so a malformed URL whose password holds "@",
// "/" or spaces is still covered; redacting too much is the safe side.
const USER_INFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^]*@/g;

export function redactUrlUserInfo(text: string): string {
  return text.indexOf("@") < 0 ? text : text.replace(USER_INFO, "$1[redacted]@");
}

/** A URL quoted back in an error message: user-info redacted, at most `max` characters. */
export function quoteUrl(url: string, max = 80): string {
  return JSON.stringify(redactUrlUserInfo(url).slice(0, max));
}
