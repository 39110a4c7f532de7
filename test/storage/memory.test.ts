import { MemoryStorage } from '../../src/storage/index.ts';
import { runStorageTests } from './suite.ts';

runStorageTests('memory', () => ({ storage: new MemoryStorage(), cleanup: () => {} }));
