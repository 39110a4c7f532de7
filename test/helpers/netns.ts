/**
 * A test LAN made of Linux network namespaces: one per host, each with a veth into a bridge
 * that lives in its own namespace, so nothing (mDNS multicast included) ever touches the
 * machine's own interfaces. Hosts get 10.77.0.(10+i)/24 and a default route on their veth
 * (multicast sends fail without one). Needs root (CAP_NET_ADMIN), iproute2 and iptables;
 * `cleanup` removes it all.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

export interface TestLan {
  ip(host: string): string;
  /** Runs `argv` inside the host's namespace. */
  spawn(host: string, argv: readonly string[]): ChildProcess;
  /** Takes the host's link down (a real partition) or back up. */
  link(host: string, up: boolean): void;
  /** Appends an iptables rule (args after the chain) in the host's namespace. */
  firewall(host: string, rule: readonly string[], chain?: 'INPUT' | 'OUTPUT'): void;
  /** Drops a share of the host's packets both ways and/or caps its link's rate; undefined clears it. */
  impair(host: string, impairment: { loss?: number; rateKbit?: number } | undefined): void;
  cleanup(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether this process may create namespaces; the reason if not. */
export function namespacesUnavailable(): string | undefined {
  const probe = `blzprobe${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return undefined;
  } catch (err) {
    return `network namespace tests need root (CAP_NET_ADMIN) and iproute2: ${(err as Error).message.split('\n')[0]}`;
  }
}

export function createLan(hosts: readonly string[]): TestLan {
  const tag = `b${process.pid % 100000}`;
  const sw = `${tag}-sw`;
  const ns = (host: string) => `${tag}-${host}`;
  const veth = (i: number) => `${tag}v${i}`;
  const created: string[] = [];
  const index = new Map(hosts.map((h, i) => [h, i]));
  const lan: TestLan = {
    ip: (host) => `10.77.0.${10 + (index.get(host) as number)}`,
    spawn: (host, argv) => spawn('ip', ['netns', 'exec', ns(host), ...argv], { stdio: ['pipe', 'pipe', 'inherit'] }),
    link: (host, up) => ip('-n', ns(host), 'link', 'set', veth(index.get(host) as number), up ? 'up' : 'down'),
    firewall(host, rule, chain = 'INPUT') {
      execFileSync('ip', ['netns', 'exec', ns(host), 'iptables', '-A', chain, ...rule], { stdio: ['ignore', 'ignore', 'pipe'] });
    },
    impair(host, impairment) {
      const dev = veth(index.get(host) as number);
      const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      // This kernel has no sch_netem: loss comes from iptables' random drop, slowness from a
      // token-bucket rate cap (frames queue behind each other, as on a slow link).
      try {
        run('ip', ['netns', 'exec', ns(host), 'iptables', '-F']);
        run('tc', ['-n', ns(host), 'qdisc', 'del', 'dev', dev, 'root']);
      } catch {}
      if (!impairment) return;
      if (impairment.loss) {
        for (const chain of ['INPUT', 'OUTPUT']) {
          run('ip', [
            'netns',
            'exec',
            ns(host),
            'iptables',
            '-A',
            chain,
            '-m',
            'statistic',
            '--mode',
            'random',
            '--probability',
            String(impairment.loss),
            '-j',
            'DROP',
          ]);
        }
      }
      if (impairment.rateKbit) {
        run('tc', [
          '-n',
          ns(host),
          'qdisc',
          'add',
          'dev',
          dev,
          'root',
          'tbf',
          'rate',
          `${impairment.rateKbit}kbit`,
          'burst',
          '16kbit',
          'latency',
          '500ms',
        ]);
      }
    },
    cleanup() {
      for (const name of created.reverse()) {
        try {
          ip('netns', 'del', name);
        } catch {}
      }
    },
  };
  try {
    ip('netns', 'add', sw);
    created.push(sw);
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', sw, 'link', 'set', 'br0', 'up');
    hosts.forEach((host, i) => {
      ip('netns', 'add', ns(host));
      created.push(ns(host));
      ip('-n', ns(host), 'link', 'set', 'lo', 'up');
      ip('-n', ns(host), 'link', 'add', veth(i), 'type', 'veth', 'peer', 'name', `${tag}s${i}`, 'netns', sw);
      ip('-n', sw, 'link', 'set', `${tag}s${i}`, 'master', 'br0', 'up');
      ip('-n', ns(host), 'addr', 'add', `${lan.ip(host)}/24`, 'dev', veth(i));
      ip('-n', ns(host), 'link', 'set', veth(i), 'up');
      ip('-n', ns(host), 'route', 'add', 'default', 'dev', veth(i));
    });
  } catch (err) {
    lan.cleanup();
    throw err;
  }
  return lan;
}
