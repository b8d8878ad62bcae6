/** What a Swarm task's status means for a spawn: pure, so every state is covered by a table test. */

/** The parts of an Engine API Task the spawner reads. */
export interface TaskInfo {
  ID?: string;
  NodeID?: string;
  DesiredState?: string;
  CreatedAt?: string;
  Status?: { State?: string; Message?: string; Err?: string; ContainerStatus?: { ExitCode?: number } };
}

export type TaskView =
  | { kind: 'progress'; progress: number; message: string }
  /** Pending because no node satisfies the constraints or has the resources: fails after scheduling_timeout. */
  | { kind: 'unschedulable'; message: string }
  | { kind: 'running' }
  | { kind: 'failed'; reason: string; message: string; exitCode?: number };

const IMAGE_MISSING = /no such image|pull access denied|manifest unknown|repository does not exist|not found: manifest|failed to resolve reference|invalid reference format/i;

/** Maps a task's current status to spawn progress, readiness or a failure a student can read. */
export function viewTask(task: TaskInfo, image: string, node?: string): TaskView {
  const state = task.Status?.State ?? 'new';
  const err = task.Status?.Err?.trim() ?? '';
  const on = node ? ` on node ${node}` : '';
  switch (state) {
    case 'new':
    case 'allocated':
      return { kind: 'progress', progress: 10, message: 'Service created; waiting for the scheduler' };
    case 'pending':
      if (/no suitable node/i.test(err)) return { kind: 'unschedulable', message: `No node can run this server: ${err}. Check spawner.placement and the resource guarantees.` };
      return { kind: 'progress', progress: 20, message: 'Waiting for a node' };
    case 'assigned':
    case 'accepted':
      return { kind: 'progress', progress: 30, message: `Assigned${on}` };
    case 'preparing':
      return { kind: 'progress', progress: 40, message: `Preparing${on} (pulling ${image} if it is not there yet)` };
    case 'ready':
      return { kind: 'progress', progress: 55, message: `Image ready${on}; creating the container` };
    case 'starting':
      return { kind: 'progress', progress: 65, message: `Starting the container${on}` };
    case 'running':
      return { kind: 'running' };
    case 'rejected':
      if (IMAGE_MISSING.test(err)) return { kind: 'failed', reason: 'image-missing', message: `The image ${image} is not available${on}: ${err}` };
      return { kind: 'failed', reason: 'rejected', message: `The node rejected the server${on}: ${err || task.Status?.Message || 'no reason given'}` };
    case 'failed': {
      const exitCode = task.Status?.ContainerStatus?.ExitCode;
      if (IMAGE_MISSING.test(err)) return { kind: 'failed', reason: 'image-missing', message: `The image ${image} is not available${on}: ${err}` };
      return { kind: 'failed', reason: 'exited', message: `The server's container failed${on}: ${err || `exit code ${exitCode ?? 'unknown'}`}`, ...(exitCode !== undefined ? { exitCode } : {}) };
    }
    case 'complete': {
      const exitCode = task.Status?.ContainerStatus?.ExitCode ?? 0;
      return { kind: 'failed', reason: 'exited', message: `The server exited${on} with code ${exitCode} before it was ready`, exitCode };
    }
    default:
      // shutdown, remove, orphaned: the task is gone or going without running the server.
      return { kind: 'failed', reason: 'stopped', message: `The server's task ended${on} (${state}${err ? `: ${err}` : ''})` };
  }
}

/** The task that matters: the newest one (restart condition none means there is normally only one). */
export function newestTask<T extends TaskInfo>(tasks: readonly T[]): T | undefined {
  return [...tasks].sort((a, b) => (a.CreatedAt ?? '').localeCompare(b.CreatedAt ?? '')).at(-1);
}
