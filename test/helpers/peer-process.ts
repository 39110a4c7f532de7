/**
 * A mesh peer in its own process, driven over stdin/stdout in JSON lines (for tests that put
 * peers in network namespaces). argv[2]: {"dbId", "mesh": MeshOptions}. Prints
 * {"event":"ready","peerId","addresses"}, then every mesh event as {"event", ...}. Reads
 * commands {"id", "cmd": "insert"|"get"|"version", ...} and answers {"reply": id, "result"}.
 */
import { createInterface } from 'node:readline';
import { BlazeDB } from '../../node/index.ts';
import { type MeshOptions, MeshPeer } from '../../node/mesh/mesh-peer.ts';

const config = JSON.parse(process.argv[2] as string) as { dbId: string; mesh: MeshOptions };
const db = await BlazeDB.open({ storage: 'memory', dbId: config.dbId });
const mesh = (await db.enableSync({ ...config.mesh, network: (d, o) => MeshPeer.start(d, o as MeshOptions) })) as MeshPeer;
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
print({ event: 'ready', peerId: mesh.peerId, addresses: mesh.addresses });
mesh.on('state', (state) => print({ event: 'state', state }));
mesh.on('peer:found', (e) => print({ event: 'found', ...e }));
mesh.on('peer:connected', (e) => print({ event: 'connected', ...e }));
mesh.on('peer:disconnected', (e) => print({ event: 'disconnected', ...e }));

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as { id: number; cmd: string; collection?: string; fields?: Record<string, never>; recordId?: string };
  let result: unknown;
  if (command.cmd === 'insert') result = await db.collection(command.collection as string).insert(command.fields ?? {});
  else if (command.cmd === 'get') result = (await db.collection(command.collection as string).get(command.recordId as string)) ?? null;
  else if (command.cmd === 'version') result = db.stats().versionVector;
  print({ reply: command.id, result });
}
await db.close();
