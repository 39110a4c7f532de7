// Child of the mesh benchmark's idle-memory figure. Plain JavaScript on the built package
// (dist/), as an app runs it: a .ts entry would also load Node's type stripper (~30 MB).
// argv: dist entry, store directory, relay multiaddr. Prints {"rss"} once idle.
const [entry, path, relay] = process.argv.slice(2);
const { BlazeDB } = await import(entry);
const db = await BlazeDB.open({ path, dbId: 'mesh-rss' });
await db.enableSync({ relay, listen: ['/ip4/127.0.0.1/tcp/0'] });
const bugs = db.collection('bugs');
for (let i = 0; i < 10; i++) await bugs.insertMany(Array.from({ length: 1000 }, (_, j) => ({ n: i * 1000 + j, title: `record ${j}` })));
await db.synced('relay-durable', { signal: AbortSignal.timeout(60_000) });
await new Promise((resolve) => setTimeout(resolve, 2_000));
globalThis.gc?.();
process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
await db.close();
process.exit(0);
