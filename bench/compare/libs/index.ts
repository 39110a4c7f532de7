/** The libraries of the comparison, loaded on demand so one that cannot load does not stop the others. */
import type { Contender } from './contender.ts';

export const LIBRARIES = ['blazedb', 'yjs', 'automerge', 'pouchdb', 'orbitdb'] as const;
export type LibraryName = (typeof LIBRARIES)[number];

export async function loadContender(name: LibraryName): Promise<Contender> {
  switch (name) {
    case 'blazedb':
      return (await import('./blazedb.ts')).blazedb();
    case 'yjs':
      return (await import('./yjs.ts')).yjs();
    case 'automerge':
      return (await import('./automerge.ts')).automerge();
    case 'pouchdb':
      return (await import('./pouchdb.ts')).pouchdb();
    case 'orbitdb':
      return (await import('./orbitdb.ts')).orbitdb();
  }
}
