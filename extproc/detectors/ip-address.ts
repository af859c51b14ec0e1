// IPv4 addresses (opt-in): four dotted decimal octets 0-255 without leading zeros, not part of a longer dotted
// run (version strings such as 1.2.3.4.5), and by default only with a context word ("ip", "host", "server"...)
// in the 40 characters before. Private, loopback and link-local ranges are skipped unless includePrivate is set.
import { contextWords, hasContextWord, isAlnum } from './chars.ts';
import type { NumberDetector } from './detector.ts';

export interface IpOptions {
  readonly requireContext: boolean;
  readonly includePrivate: boolean;
}

const CONTEXT = contextWords(['ip', 'addr', 'host', 'server', 'connect', 'client', 'gateway', 'dns', 'peer', 'remote', 'origin', 'inet']);

/** Whether an address with these first two octets is private, loopback, link-local, multicast or reserved. */
function isPrivate(a: number, b: number): boolean {
  return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || a >= 224;
}

export function ipAddress(opts: IpOptions): NumberDetector {
  return {
    kind: 'number',
    minDigits: 4,
    maxDigits: 12,
    groupCounts: [4],
    prev: (c) => !isAlnum(c) && c !== 46,
    id: 'pii.ip_address',
    type: 'IP_ADDRESS',
    maxLength: 15,
    onNumber(tok, report) {
      if (tok.count !== 4 || tok.digits < 4) return;
      const text = tok.text;
      // The octets' values read from their digits (a group is all digits): no slice, number parse or array per
      // token, most of a call that refuses (a netmask, a version with a long group).
      let a = 0;
      let b = 0;
      for (let g = 0; g < 4; g++) {
        const s = tok.starts[g] ?? 0;
        const e = tok.ends[g] ?? 0;
        if (e - s > 3 || (e - s > 1 && text.charCodeAt(s) === 48)) return;
        if (g < 3 && text.charCodeAt(e) !== 46) return;
        let v = 0;
        for (let k = s; k < e; k++) v = v * 10 + text.charCodeAt(k) - 48;
        if (v > 255) return;
        if (g === 0) a = v;
        else if (g === 1) b = v;
      }
      const before = tok.start > 0 ? text.charCodeAt(tok.start - 1) : 32;
      if (isAlnum(before) || before === 46 || (text.charCodeAt(tok.end) === 46 && isAlnum(text.charCodeAt(tok.end + 1)))) return;
      if (!opts.includePrivate && isPrivate(a, b)) return;
      if (opts.requireContext && !hasContextWord(text, tok.start - 40, tok.start, CONTEXT)) return;
      report(tok.start, tok.end);
    },
  };
}
