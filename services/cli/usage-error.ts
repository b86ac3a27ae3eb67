/** A command line the command cannot run: printed with exit code 2. */
export class UsageError extends Error {}
