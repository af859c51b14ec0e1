/** A long-running command: main.ts stops it on SIGINT/SIGTERM. */
export interface Running {
  stop(): Promise<void>;
  /** Resolves if the command ends on its own (e.g. a child process died), with an exit code. */
  readonly ended?: Promise<number>;
}
