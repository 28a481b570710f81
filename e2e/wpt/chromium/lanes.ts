/**
 * How the browser runner (runner.ts) runs one WPT page of a mode: the
 * interfaces every mode implements, and the lane of the modes whose pages
 * Playwright drives (`PageLane`).
 *
 * A mode is launched once per run (`ModeHost`) and gives out lanes; each lane
 * runs one job at a time, and the runner keeps a few lanes busy at once.
 */
import type { BrowserContext, Page } from '@playwright/test';
import type { WptJob } from '../manifest.js';
import { HARNESS_STATUSES, type JobResult, TEST_STATUSES } from '../messages.js';
import { type PageReport, REPORT_BINDING } from './pages.js';

/** Runs a mode's jobs, one at a time. */
export interface ModeLane {
  run(job: WptJob): Promise<JobResult<string>>;
  close(): Promise<void>;
}

/** A mode's browser, launched for the run. */
export interface ModeHost {
  /** The browser's version, for the report. */
  readonly version: string;
  lane(): ModeLane;
  /** Close the browser and whatever the mode started for it. */
  close(): Promise<void>;
}

/** Time a page gets past its WPT timeout (times the multiplier) to report. */
export const GRACE_MS = 15_000;
/** Output kept per page (errors, crashes), for diagnosis. */
const MAX_OUTPUT = 4_000;

/** A job's output lines (errors, crashes), bounded. */
export class JobOutput {
  readonly #lines: string[] = [];
  #length = 0;

  note(line: string): void {
    if (this.#length >= MAX_OUTPUT) return;
    this.#lines.push(line);
    this.#length += line.length + 1;
  }

  toString(): string {
    return this.#lines.join('\n').slice(0, MAX_OUTPUT);
  }
}

/**
 * A job's result from what its page reported (or the harness status the
 * runner gives it), checking that the page tested the mode's `WebSocket`.
 */
export function jobResult(
  mode: string,
  job: WptJob,
  started: number,
  output: JobOutput,
  outcome: { readonly report: PageReport; readonly nativeExpected: boolean } | JobResult['harness'],
): JobResult<string> {
  const base = {
    mode,
    id: job.id,
    durationMs: Math.round(performance.now() - started),
    output: output.toString(),
  };
  if (!('report' in outcome)) return { ...base, tests: [], harness: outcome };
  const { report, nativeExpected } = outcome;
  // A page whose WebSocket is not the mode's would test the wrong thing.
  if (report.nativeWebSocket !== nativeExpected) {
    const which = report.nativeWebSocket ? "the browser's" : "not the browser's";
    return {
      ...base,
      tests: [],
      harness: { status: 'ERROR', message: `the page's WebSocket was ${which} in mode ${mode}` },
    };
  }
  return {
    ...base,
    tests: report.tests.map((test) => ({
      name: test.name,
      status: TEST_STATUSES[test.status] ?? 'FAIL',
      message: test.message,
    })),
    harness: { status: HARNESS_STATUSES[report.harness.status] ?? 'ERROR', message: report.harness.message },
  };
}

/** A page of a {@link PageSource}, with its reports routed to the lane. */
export interface SourcePage {
  readonly page: Page;
  /** The context the page lives in. */
  readonly context: BrowserContext;
  /**
   * Whether other lanes' pages share the context: then what the context
   * reports (its service workers) cannot be told apart by page.
   */
  readonly shared: boolean;
  /** How many of the windows the page opened (and those they opened) are still open. */
  openWindows(): number;
  /** Close the page, the windows it opened, and its context if it has one of its own. */
  close(): Promise<void>;
}

/** Where a {@link PageLane} gets its pages. */
export interface PageSource {
  /**
   * A fresh page; what its main frame hands to the report binding goes to
   * `onReport` (not what its frames or the windows it opens hand over).
   */
  open(onReport: (json: string) => void): Promise<SourcePage>;
}

/** A {@link PageSource} that gives each page a context of its own in `newContext()`'s contexts. */
export function contextPages(newContext: () => Promise<BrowserContext>): PageSource {
  return {
    async open(onReport) {
      const context = await newContext();
      let page: Page | undefined;
      await context.exposeBinding(REPORT_BINDING, (source, json: string) => {
        if (page !== undefined && source.page === page && source.frame === page.mainFrame()) onReport(json);
      });
      page = await context.newPage();
      return {
        page,
        context,
        shared: false,
        // Every other page of its context is a window it opened.
        openWindows: () => context.pages().length - 1,
        close: () => context.close(),
      };
    },
  };
}

/**
 * A {@link PageSource} whose pages all live in `context`, which the lanes
 * share (a persistent context: an Isolated Web App is installed in the
 * profile, which only that context sees). The report binding is exposed
 * once, and each report goes to the lane whose page's main frame made it.
 * A page's windows are the popups it opened, and theirs.
 */
export async function sharedContextPages(context: BrowserContext): Promise<PageSource> {
  const routes = new Map<Page, (json: string) => void>();
  await context.exposeBinding(REPORT_BINDING, (source, json: string) => {
    if (source.frame !== source.page.mainFrame()) return;
    routes.get(source.page)?.(json);
  });
  return {
    async open(onReport) {
      const page = await context.newPage();
      routes.set(page, onReport);
      const windows = new Set<Page>();
      const watch = (opener: Page) =>
        opener.on('popup', (popup) => {
          if (popup.isClosed()) return;
          windows.add(popup);
          popup.once('close', () => windows.delete(popup));
          watch(popup);
        });
      watch(page);
      return {
        page,
        context,
        shared: true,
        openWindows: () => windows.size,
        close: async () => {
          routes.delete(page);
          await Promise.all([...windows, page].map((each) => each.close().catch(() => {})));
        },
      };
    },
  };
}

/**
 * Where a page that did not report got to (its URL, load state, whether
 * testharness.js ran, its scripts), for the job's output; within 2 s, as
 * the page may be stuck.
 */
async function pageState(page: Page): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const state = page
    .evaluate(
      `JSON.stringify({ url: location.href, readyState: document.readyState, harness: typeof add_completion_callback, scripts: [...document.scripts].map((s) => s.src.split('/').pop()).join(' ') })`,
    )
    .then(String, (error: Error) => `evaluate failed: ${error.message.split('\n')[0]}`);
  const stuck = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('the page did not answer within 2 s'), 2000);
  });
  try {
    return await Promise.race([state, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

/** A page kept from job to job while they end normally. */
interface Tab {
  readonly source: SourcePage;
  current: { readonly report: (report: PageReport) => void; readonly output: JobOutput } | null;
}

/**
 * A lane of a mode whose pages Playwright drives: runs jobs one after the
 * other in a page kept from job to job (a new page per job costs more CPU
 * than most tests: a renderer each, testharness.js compiled afresh). The
 * next job's page replaces the last one, whose harness has completed, so a
 * report can only come from the job's own page. A job that did not end
 * normally (timeout, crash, error) leaves a fresh page to the next; so does
 * one that left windows open.
 */
export class PageLane implements ModeLane {
  readonly #mode: string;
  readonly #source: PageSource;
  readonly #url: (job: WptJob) => string;
  readonly #native: boolean;
  #tab: Tab | null = null;

  /**
   * @param url Where the job's page is loaded from.
   * @param native Whether the mode's pages test the browser's own `WebSocket`.
   */
  constructor(mode: string, source: PageSource, url: (job: WptJob) => string, native: boolean) {
    this.#mode = mode;
    this.#source = source;
    this.#url = url;
    this.#native = native;
  }

  async #open(): Promise<Tab> {
    if (this.#tab !== null) return this.#tab;
    const tab: Tab = {
      source: await this.#source.open((json) => tab.current?.report(JSON.parse(json) as PageReport)),
      current: null,
    };
    const note = (line: string) => tab.current?.output.note(line);
    const { page, context, shared } = tab.source;
    if (!shared) {
      context.on('serviceworker', (worker) =>
        worker.on('console', (message) => {
          if (message.type() === 'error') note(`[service worker console] ${message.text()}`);
        }),
      );
    }
    page.on('pageerror', (error) => note(`[page error] ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') note(`[console] ${message.text()}`);
    });
    page.on('worker', (worker) =>
      worker.on('console', (message) => {
        if (message.type() === 'error') note(`[worker console] ${message.text()}`);
      }),
    );
    this.#tab = tab;
    return tab;
  }

  async #discard(): Promise<void> {
    const tab = this.#tab;
    this.#tab = null;
    await tab?.source.close().catch(() => {});
  }

  /** Load the job's page and take its results. */
  async run(job: WptJob): Promise<JobResult<string>> {
    const started = performance.now();
    const output = new JobOutput();
    let clean = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const tab = await this.#open();
      let reported: (report: PageReport) => void = () => {};
      const report = new Promise<PageReport>((resolveReport) => (reported = resolveReport));
      tab.current = { report: reported, output };
      let failed: (why: string) => void = () => {};
      const failure = new Promise<string>((resolveFailure) => (failed = resolveFailure));
      const onCrash = () => failed('the page crashed');
      const { page } = tab.source;
      page.once('crash', onCrash);
      const deadline = job.timeoutMs + GRACE_MS;
      const timedOut = new Promise<string>((resolveTimeout) => {
        timer = setTimeout(() => resolveTimeout('timeout'), deadline);
      });
      page.goto(this.#url(job), { waitUntil: 'commit', timeout: deadline }).catch((error: Error) => {
        failed(`navigation failed: ${error.message.split('\n')[0]}`);
      });
      const outcome = await Promise.race([report, failure, timedOut]);
      page.off('crash', onCrash);
      tab.current = null;
      if (typeof outcome !== 'string') {
        clean = tab.source.openWindows() === 0;
        return jobResult(this.#mode, job, started, output, { report: outcome, nativeExpected: this.#native });
      }
      if (outcome === 'timeout') {
        output.note(`[runner] page at timeout: ${await pageState(page)}`);
        return jobResult(this.#mode, job, started, output, {
          status: 'TIMEOUT',
          message: `no result from the page within ${deadline} ms`,
        });
      }
      return jobResult(this.#mode, job, started, output, { status: 'ERROR', message: outcome });
    } catch (error) {
      return jobResult(this.#mode, job, started, output, {
        status: 'ERROR',
        message: `runner: ${String(error)}`,
      });
    } finally {
      clearTimeout(timer);
      if (!clean) await this.#discard();
    }
  }

  close(): Promise<void> {
    return this.#discard();
  }
}
