// Fills `<!-- include path -->` ... `<!-- end include -->` blocks of a Markdown file with the named file, in a code
// block, so docs show exactly the example files the tests load.
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

const BLOCK = /<!-- include (\S+) -->\n[\s\S]*?<!-- end include -->/g;

export function renderIncludes(markdown: string, root: string): string {
  return markdown.replace(BLOCK, (_match, path: string) => {
    const text = readFileSync(join(root, path), 'utf8').trimEnd();
    const language = extname(path).slice(1);
    return `<!-- include ${path} -->\n\`\`\`${language}\n${text}\n\`\`\`\n<!-- end include -->`;
  });
}
