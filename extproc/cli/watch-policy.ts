import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { App } from '../app.ts';
import { loadConfigFile } from '../config/load.ts';

/**
 * Hot reload: the config file is re-read when it changes (the directory is watched, so editors that
 * replace the file and Kubernetes ConfigMap symlink swaps are seen) and on SIGHUP. A valid policy
 * swaps in atomically; an invalid one is refused with its reason logged, and the old one stays.
 */
export function watchPolicy(path: string, app: App, debounceMs = 200): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const reload = (trigger: string): void => {
    try {
      const { revision, needsRestart } = app.reload(loadConfigFile(path));
      if (needsRestart.length > 0) app.logger.warn({ trigger, policy_revision: revision, needs_restart: needsRestart }, 'these settings changed but take effect only after a restart');
    } catch (err) {
      app.metrics.policyReloads.inc({ result: 'rejected' });
      app.logger.error({ trigger, reason: (err as Error).message, policy_revision: app.policy().revision }, 'policy reload refused; the previous policy stays in force');
    }
  };
  const schedule = (trigger: string): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => { timer = undefined; reload(trigger); }, debounceMs);
  };
  let watcher: FSWatcher | undefined;
  try {
    const name = basename(path);
    watcher = watch(dirname(path), (_event, file) => { if (file === null || file === name || file.startsWith('..')) schedule('file'); });
  } catch (err) {
    app.logger.warn({ err }, 'cannot watch the config file; reload with SIGHUP');
  }
  const onHup = (): void => { reload('SIGHUP'); };
  process.on('SIGHUP', onHup);
  return {
    close() {
      watcher?.close();
      if (timer !== undefined) clearTimeout(timer);
      process.off('SIGHUP', onHup);
    },
  };
}
