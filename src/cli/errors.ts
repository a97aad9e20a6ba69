/** Wrong words on the command line: exit code 2 with the command's usage. */
export class UsageError extends Error {}
/** A failure worth one line, no stack: exit code 1. */
export class CliError extends Error {}
