import type { Control } from './control.ts';
import { CONTENT_CONTROLS } from './controls-content.ts';
import { IDENTITY_CONTROLS } from './controls-identity.ts';

/** Every posture control, in report order. Extend the per-area tables, not this list. */
export const CONTROLS: readonly Control[] = [...IDENTITY_CONTROLS, ...CONTENT_CONTROLS];
