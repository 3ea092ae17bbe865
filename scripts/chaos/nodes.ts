/**
 * The two compiled Parsec nodes of the chaos run, as child processes under a small supervisor: a node
 * that exits (killed by a scenario, or on its own, as `main.ts` does when its consumer fails for good)
 * is started again on the same disk after a second, as a process manager would. Each start is an
 * incarnation with its own pid, URL and metrics; every exit the run did not cause is recorded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../kafka/launcher";
import { onCleanup } from "./cleanup";

export interface NodeSpec {
  readonly name: string;
  /** The node's configuration file contents (its disk, topics, chain, …). */
  readonly config: Record<string, unknown>;
  /** Environment on top of a clean one: keys and brokers. */
  readonly env: Record<string, string>;
}

export interface Incarnation {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly startedAtMs: number;
}

export interface UnplannedExit {
  readonly name: string;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly atMs: number;
}

const RESTART_DELAY_MS = 1000;
const READY_TIMEOUT_MS = 90_000;

class Supervised {
  child: ChildProcess | null = null;
  current: Incarnation | null = null;
  stopped = false; // SIGSTOPped by the run
  /** Set by the run before it kills the process, so the exit is not reported as unplanned. */
  planned = false;
  restarts = 0;

  constructor(
    readonly spec: NodeSpec,
    readonly entry: string,
    readonly dir: string,
  ) {}
}

export class NodeFleet {
  private readonly nodes = new Map<string, Supervised>();
  private closing = false;
  readonly unplannedExits: UnplannedExit[] = [];
  /** Called on every new incarnation (e.g. to reset its metrics baseline). */
  onStart: (i: Incarnation) => void = () => undefined;

  constructor(
    private readonly entry: string,
    private readonly dir: string,
    private readonly log: (m: string) => void,
  ) {
    onCleanup("stop the nodes", () => this.close());
  }

  /** Starts a node and resolves with its first incarnation once it consumes. */
  async add(spec: NodeSpec): Promise<Incarnation> {
    const s = new Supervised(spec, this.entry, this.dir);
    this.nodes.set(spec.name, s);
    return this.launch(s);
  }

  names(): string[] {
    return [...this.nodes.keys()];
  }

  /** The running incarnations (not SIGSTOPped, not between a death and a restart). */
  live(): Incarnation[] {
    return [...this.nodes.values()].filter((s) => s.current && !s.stopped).map((s) => s.current!);
  }

  /** Every incarnation that is up, also a SIGSTOPped one. */
  all(): Incarnation[] {
    return [...this.nodes.values()].filter((s) => s.current).map((s) => s.current!);
  }

  /** kill -9 of a running node; the supervisor starts it again a second later. Returns the killed pid. */
  kill9(name: string): number | undefined {
    const s = this.get(name);
    const pid = s.current?.pid;
    s.planned = true;
    s.child?.kill("SIGKILL");
    return pid;
  }

  pause(name: string): void {
    const s = this.get(name);
    s.child?.kill("SIGSTOP");
    s.stopped = true;
  }

  resume(name: string): void {
    const s = this.get(name);
    s.child?.kill("SIGCONT");
    s.stopped = false;
  }

  /** Resolves with the first incarnation of `name` whose pid is not `notPid`. */
  async waitIncarnation(
    name: string,
    notPid?: number,
    timeoutMs = 2 * READY_TIMEOUT_MS,
  ): Promise<Incarnation> {
    const s = this.get(name);
    const deadline = Date.now() + timeoutMs;
    while (!s.current || s.current.pid === notPid) {
      if (Date.now() > deadline) throw new Error(`${name} did not come back within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return s.current;
  }

  logFile(name: string): string {
    return path.join(this.dir, `${name}.log`);
  }

  /** Stops every node: SIGCONT, SIGTERM, SIGKILL after 10 s. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.nodes.values()].map(async (s) => {
        const child = s.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private get(name: string): Supervised {
    const s = this.nodes.get(name);
    if (!s) throw new Error(`no node ${name}`);
    return s;
  }

  private launch(s: Supervised): Promise<Incarnation> {
    const file = path.join(this.dir, `${s.spec.name}.json`);
    fs.writeFileSync(file, JSON.stringify(s.spec.config, null, 2));
    // A clean environment: a PARSEC_* or KAFKA_* variable of the caller's shell would override the file.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith("PARSEC_") && !k.startsWith("KAFKA_")) env[k] = v;
    const log = fs.openSync(this.logFile(s.spec.name), "a");
    const child = spawn(process.execPath, ["--max-semi-space-size=8", s.entry, "--config", file], {
      cwd: REPO_ROOT,
      env: { ...env, ...s.spec.env },
      stdio: ["ignore", "pipe", log],
    });
    fs.closeSync(log);
    s.child = child;
    s.planned = false;
    s.stopped = false;
    const startedAtMs = Date.now();
    child.once("exit", (code, signal) => {
      if (s.child !== child) return;
      s.current = null;
      s.child = null;
      if (this.closing) return;
      if (!s.planned) {
        this.unplannedExits.push({ name: s.spec.name, pid: child.pid ?? 0, code, signal, atMs: Date.now() });
        this.log(`${s.spec.name} (pid ${child.pid}) exited on its own: code ${code}, signal ${signal}`);
      }
      setTimeout(() => {
        if (this.closing) return;
        s.restarts++;
        this.launch(s).catch((e: unknown) => this.log(`restarting ${s.spec.name}: ${String(e)}`));
      }, RESTART_DELAY_MS);
    });
    return new Promise<Incarnation>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => {
        reject(new Error(`${s.spec.name} did not print its ready line within ${READY_TIMEOUT_MS / 1000} s`));
        s.planned = true; // not the node's own exit: the run gave up on it
        child.kill("SIGKILL");
      }, READY_TIMEOUT_MS);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${s.spec.name} exited with ${code} before it was ready; see ${this.logFile(s.spec.name)}`,
          ),
        );
      });
      child.stdout?.on("data", (d: Buffer) => {
        buf += d.toString();
        const line = buf.split("\n").find((l) => l.startsWith("{"));
        if (!line || s.current?.pid === child.pid) return;
        clearTimeout(timer);
        const inc: Incarnation = {
          name: s.spec.name,
          pid: child.pid ?? 0,
          url: (JSON.parse(line) as { url: string }).url,
          startedAtMs,
        };
        s.current = inc;
        this.onStart(inc);
        resolve(inc);
      });
    });
  }
}
