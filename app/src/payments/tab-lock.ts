/**
 * One tab signs for a payment key: the Web Locks API gives the first tab of the origin an exclusive lock
 * on the key, held while the tab lives (the browser releases it when the tab closes or crashes). A second
 * tab does not start payments: two tabs would build on the same chain from one journal in `localStorage`,
 * which does not lock across tabs.
 */

/** How long a tab waits for the lock (a reloading tab's previous document releases it in this time). */
const TAB_LOCK_WAIT_MS = 3_000;

/** Resolves true once this tab holds the key's lock (kept until the tab goes), false if another tab keeps it. */
export function holdTabLock(name: string): Promise<boolean> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  // No Web Locks (an old browser): nothing to coordinate with; the journal still refuses an equivocation.
  if (!locks) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    locks
      .request(name, { signal: AbortSignal.timeout(TAB_LOCK_WAIT_MS) }, () => {
        resolve(true);
        return new Promise<never>(() => undefined); // held for the tab's lifetime
      })
      .catch(() => resolve(false));
  });
}
