/** A record's key in maps: collection and id, unambiguous whatever characters they hold. */
export const recordKey = (collection: string, id: string) => `${collection.length}:${collection}:${id}`;
