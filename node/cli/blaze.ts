#!/usr/bin/env node
/**
 * `blaze`: the command line for a local BlazeDB store.
 *   blaze --db DIR COMMAND ARGS... [--json]
 * JSON out with --json, tables otherwise; exit 0 on success, 1 on an error, 2 on bad usage,
 * with a one-line message on stderr.
 */
import { parseArgs } from 'node:util';
import { BlazeDB } from '../../src/db/index.ts';
import { BlazeError } from '../../src/errors.ts';
import { checkArgCount, COMMANDS as LOCAL_COMMANDS, UsageError } from './commands.ts';
import { SYNC_COMMANDS } from './sync-commands.ts';

const COMMANDS = { ...LOCAL_COMMANDS, ...SYNC_COMMANDS };

const HELP = `blaze: command line for a local BlazeDB store

usage: blaze --db DIR COMMAND [ARGS...] [--json]

commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.padEnd(62)} ${c.summary}`)
  .join('\n')}

options:
  --db DIR     the store directory (required)
  --json       print JSON instead of tables
  --relay MULTIADDR (repeatable), --mdns, --webrtc, --token T, --listen MULTIADDR, --role peer|relay:
               how 'peer' and 'sync' reach other devices (docs/mesh.md)
  --gc-authority  this store is the database's home relay: it decides the GC frontier and
               evictions ('peer --role relay', 'compact'; docs/gc.md)
  --help       this help; 'blaze COMMAND --help' for one command

A VALUE is parsed as JSON when it parses, else taken as a string.`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        db: { type: 'string' },
        'db-id': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        id: { type: 'string' },
        sort: { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' },
        drop: { type: 'boolean' },
        relay: { type: 'string', multiple: true },
        listen: { type: 'string', multiple: true },
        mdns: { type: 'boolean' },
        webrtc: { type: 'boolean' },
        token: { type: 'string' },
        'rules-filter': { type: 'boolean' },
        role: { type: 'string' },
        once: { type: 'boolean' },
        window: { type: 'string' },
        timeout: { type: 'string' },
        verbose: { type: 'boolean' },
        'gc-authority': { type: 'boolean' },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...args] = positionals;
  if (name === undefined) {
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    return usage('no command given (blaze --help lists them)');
  }
  const command = COMMANDS[name];
  if (!command) return usage(`unknown command '${name}' (blaze --help lists them)`);
  if (values.help) {
    process.stdout.write(`usage: blaze --db DIR ${command.usage}\n  ${command.summary}\n`);
    return 0;
  }
  if (typeof values.db !== 'string' || values.db.length === 0) return usage('--db DIR is required');
  if (name === 'init' && typeof values['db-id'] !== 'string') return usage('usage: blaze --db DIR init --db-id DBID');
  if (name !== 'init' && values['db-id'] !== undefined) return usage('--db-id is only for init');
  if (values['gc-authority'] && name !== 'peer' && name !== 'compact') return usage('--gc-authority is for peer and compact');
  try {
    checkArgCount(command, args);
  } catch (err) {
    return usage((err as Error).message);
  }

  let db: BlazeDB;
  try {
    db = await BlazeDB.open({
      path: values.db,
      create: name === 'init',
      ...(name === 'init' ? { dbId: values['db-id'] as string } : {}),
      ...(values['gc-authority'] ? { gc: { authority: true } } : {}),
    });
  } catch (err) {
    return fail(err);
  }
  try {
    // Repeatable options (--relay, --listen) arrive as arrays: commands take them comma-joined.
    const options = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, v === undefined ? undefined : Array.isArray(v) ? v.join(',') : String(v)]),
    );
    const out = await command.run(db, args, options);
    process.stdout.write(`${values.json ? JSON.stringify(out.json) : out.text}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message);
    return fail(err);
  } finally {
    await db.close();
  }
}

function usage(message: string): number {
  process.stderr.write(`blaze: ${message}\n`);
  return 2;
}

function fail(err: unknown): number {
  const known = err instanceof BlazeError || (err instanceof Error && err.name === 'NotFound');
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`blaze: ${known ? `${(err as Error).name}: ` : ''}${message.split('\n')[0]}\n`);
  return 1;
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`blaze: needs Node.js >= 22 (found ${process.version})\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
