// Fails early, with a clear message, when the project's scripts run on a Node.js older than 22.
// npm puts node_modules/.bin first on PATH, so the pinned `node` devDependency (v24) is used
// even where the machine's own node is older.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`BlazeDB needs Node.js >= 22 (found ${process.version}). Run 'npm install' so the pinned Node 24 is used.`);
  process.exit(1);
}
