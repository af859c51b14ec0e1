import type { Config } from '../config/schema.ts';
import type { ServerTool } from '../core/content.ts';
import type { DlpActionRule } from '../detectors/dlp-actions.ts';
import { buildScanner } from '../detectors/registry.ts';
import type { Scanner } from '../detectors/scanner.ts';

/** The content controls of one policy revision: the scanner (detectors compiled once) and the action rules. */
export interface DlpPolicy {
  readonly scanner: Scanner;
  readonly rules: readonly DlpActionRule[];
  readonly response: { readonly scan: boolean; readonly holdBack: number; readonly maxHoldBack: number };
  /** Whether requests may ask the provider to fetch URLs. */
  readonly allowProviderFetch: boolean;
  /** Server-side tool categories requests may enable. */
  readonly allowServerTools: ReadonlySet<ServerTool>;
}

/** Compiles `dlp`; undefined when content controls are off. Custom patterns that are not linear-time are refused here. */
export function compileDlp(config: Config): DlpPolicy | undefined {
  const dlp = config.dlp;
  if (!dlp.enabled) return undefined;
  const d = dlp.detectors;
  const scanner = buildScanner({ disable: d.disable, locales: d.locales, phone: d.phone, ip: d.ip, allowList: dlp.allowList, custom: dlp.custom, limits: dlp.limits });
  return Object.freeze({ scanner, rules: dlp.actions, response: dlp.response, allowProviderFetch: dlp.allowProviderFetch, allowServerTools: new Set(dlp.allowServerTools) });
}
