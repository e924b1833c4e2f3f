import { execFile } from 'node:child_process';

/**
 * Poppler's command-line tools (`poppler-utils`: pdftotext, pdfinfo, pdffonts), reading a PDF held in
 * memory from stdin: what a person's viewer would extract, not what our code believes it wrote.
 */
function run(tool: string, args: string[], pdf: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(tool, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    child.stdin?.end(pdf);
  });
}

/** The PDF's text as pdftotext extracts it, with runs of white space (line breaks included) made one space. */
export async function pdfText(pdf: Buffer): Promise<string> {
  return (await run('pdftotext', ['-enc', 'UTF-8', '-', '-'], pdf)).replace(/\s+/g, ' ');
}

/** The text of each page, in order (pdftotext separates pages with a form feed). */
export async function pdfPageTexts(pdf: Buffer): Promise<string[]> {
  const text = await run('pdftotext', ['-enc', 'UTF-8', '-', '-'], pdf);
  return text
    .split('\f')
    .slice(0, -1)
    .map((page) => page.replace(/\s+/g, ' ').trim());
}

/** pdfinfo's fields (`Pages`, `CreationDate`, …). */
export async function pdfInfo(pdf: Buffer): Promise<Record<string, string>> {
  const out = await run('pdfinfo', ['-isodates', '-'], pdf);
  return Object.fromEntries(
    out
      .split('\n')
      .map((line) => /^([^:]+):\s*(.*)$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1], match[2].trim()]),
  );
}

/** Each font the PDF uses: its name and whether it is embedded. */
export async function pdfFonts(pdf: Buffer): Promise<{ name: string; embedded: boolean }[]> {
  const lines = (await run('pdffonts', ['-'], pdf)).split('\n').slice(2).filter(Boolean);
  // name type encoding emb sub uni object ID: the name has no spaces; "emb" is the 4th column from the end.
  return lines.map((line) => {
    const columns = line.trim().split(/\s+/);
    return { name: columns[0], embedded: columns[columns.length - 5] === 'yes' };
  });
}
