import { MemoryEventDeadLetterStore } from '../../../src/store/event-dead-letters/memory';
import { eventDeadLetterContract } from './contract';

eventDeadLetterContract('memory', (bounds) => {
  const store = new MemoryEventDeadLetterStore(bounds);
  return { stores: (n) => Array.from({ length: n }, () => store) };
});
