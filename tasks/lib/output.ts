/** Where the tasks print. Tests swap it to keep their output clean and to assert on what a user sees. */
export type Printer = (line: string) => void;

let printer: Printer = (line) => console.log(line);

/** Prints one line of task output. */
export function print(line: string): void {
  printer(line);
}

/** Replaces the printer; returns the previous one so a test can restore it. */
export function setPrinter(next: Printer): Printer {
  const previous = printer;
  printer = next;
  return previous;
}
