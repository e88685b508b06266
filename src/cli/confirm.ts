import { createInterface } from "node:readline";

/**
 * Ask a yes/no question on the terminal (prompt on stderr, so stdout stays the
 * command's output). Only "y" or "yes" is a yes; end of input is a no.
 */
export function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise<boolean>((resolve) => {
    let answered = false;
    rl.once("close", () => {
      if (!answered) process.stderr.write("\n");
      resolve(false);
    });
    rl.question(`${question} [y/N] `, (answer) => {
      answered = true;
      resolve(/^(y|yes)$/i.test(answer.trim()));
      rl.close();
    });
  });
}
