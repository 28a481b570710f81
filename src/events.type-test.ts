/**
 * Compile-time parity of the `CloseEvent` types declared in `events.ts` with
 * lib.dom's, in both directions: `tsc -p tsconfig.json` fails if they drift.
 * Never run.
 */
import { CloseEvent, type CloseEventInit } from './events.js';

export const toPlatform: typeof globalThis.CloseEvent = CloseEvent;
export const fromPlatform: typeof CloseEvent = globalThis.CloseEvent;

export const instance: globalThis.CloseEvent = new CloseEvent('close', { code: 1000 });
export const platformInstance: CloseEvent = new globalThis.CloseEvent('close', { code: 1000 });

declare const init: CloseEventInit;
declare const platformInit: globalThis.CloseEventInit;
export const initToPlatform: globalThis.CloseEventInit = init;
export const initFromPlatform: CloseEventInit = platformInit;
