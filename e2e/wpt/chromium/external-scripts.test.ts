import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExternalScripts, INLINE_SCRIPTS_PATH, scriptKind, tagAttributes } from './external-scripts.js';

const pathOf = (text: string) =>
  `${INLINE_SCRIPTS_PATH}${createHash('sha256').update(Buffer.from(text, 'latin1')).digest('hex')}.js`;

const served = (scripts: ExternalScripts, path: string) => {
  const resource = scripts.resource(path);
  return resource === undefined ? undefined : Buffer.from(resource.body).toString('latin1');
};

describe('ExternalScripts', () => {
  it('moves inline classic scripts out, in place and in order, and serves their text', () => {
    const scripts = new ExternalScripts();
    const page = [
      '<!doctype html>',
      '<script src="/resources/testharness.js"></script>',
      '<script>var a = 1;</script>',
      '<div id=log></div>',
      '<SCRIPT type="text/javascript">\nvar b = "</scrip" + "t>";\n</SCRIPT >',
    ].join('\n');
    const first = 'var a = 1;';
    const second = '\nvar b = "</scrip" + "t>";\n';
    expect(scripts.rewrite(page)).toBe(
      [
        '<!doctype html>',
        '<script src="/resources/testharness.js"></script>',
        `<script src="${pathOf(first)}"></script>`,
        '<div id=log></div>',
        `<script src="${pathOf(second)}" type="text/javascript"></script>`,
      ].join('\n'),
    );
    expect(served(scripts, pathOf(first))).toBe(first);
    expect(served(scripts, pathOf(second))).toBe(second);
    expect(scripts.size).toBe(2);
    const resource = scripts.resource(pathOf(first))!;
    expect(resource.status).toBe(200);
    // No charset: the script is decoded with its document's encoding.
    expect(resource.headers['content-type']).toBe('text/javascript');
  });

  it('a script ends at the first </script, whatever comes before in it', () => {
    const scripts = new ExternalScripts();
    const page = '<script>var s = "<script>";</script><p>after</p>';
    expect(scripts.rewrite(page)).toBe(
      `<script src="${pathOf('var s = "<script>";')}"></script><p>after</p>`,
    );
  });

  it('drops async and defer from classic scripts (an inline one ignores them), keeps other attributes', () => {
    const scripts = new ExternalScripts();
    const rewritten = scripts.rewrite('<script id="x" defer async data-x="async defer">go()</script>');
    expect(rewritten).toBe(`<script src="${pathOf('go()')}" id="x" data-x="async defer"></script>`);
  });

  it('keeps module scripts modules, async included', () => {
    const scripts = new ExternalScripts();
    expect(scripts.rewrite('<script type=module async>import "/a.js";</script>')).toBe(
      `<script src="${pathOf('import "/a.js";')}" type=module async></script>`,
    );
  });

  it('leaves scripts with a src, data blocks, comments and the rest of the page alone', () => {
    const scripts = new ExternalScripts();
    const page = [
      '<!-- <script>commented()</script> -->',
      '<script src="a.js">ignored text</script>',
      '<script type="text/plain">not js</script>',
      '<script type="importmap">{"imports":{}}</script>',
      '<p onclick="x()">a handler stays</p>',
      '<scripts>not a script element</scripts>',
    ].join('\n');
    expect(scripts.rewrite(page)).toBe(page);
    expect(scripts.size).toBe(0);
  });

  it('keeps bytes that are not UTF-8 as they are (a windows-1252 page)', () => {
    const scripts = new ExternalScripts();
    const script = 'var s = "\xe9\xff";';
    const body = new Uint8Array(
      Buffer.from(`<meta charset=windows-1252><script>${script}</script>`, 'latin1'),
    );
    const rewritten = Buffer.from(scripts.rewriteBytes(body)).toString('latin1');
    expect(rewritten).toBe(`<meta charset=windows-1252><script src="${pathOf(script)}"></script>`);
    expect([...scripts.resource(pathOf(script))!.body]).toEqual([...Buffer.from(script, 'latin1')]);
  });

  it('the same text twice is one script; an unclosed script runs to the end of the page', () => {
    const scripts = new ExternalScripts();
    expect(scripts.rewrite('<script>x</script><script>x</script><script>y')).toBe(
      `<script src="${pathOf('x')}"></script><script src="${pathOf('x')}"></script><script src="${pathOf('y')}"></script>`,
    );
    expect(scripts.size).toBe(2);
  });

  it('answers 404 for a script no page had, and undefined outside its path', () => {
    const scripts = new ExternalScripts();
    expect(scripts.resource(`${INLINE_SCRIPTS_PATH}0000.js`)?.status).toBe(404);
    expect(scripts.resource('/resources/testharness.js')).toBeUndefined();
  });

  it('serves under another prefix when asked', () => {
    const scripts = new ExternalScripts('/inline-scripts/');
    expect(scripts.rewrite('<script>z</script>')).toMatch(
      /^<script src="\/inline-scripts\/[0-9a-f]{64}\.js"><\/script>$/,
    );
  });
});

describe('scriptKind', () => {
  it('follows HTML: no type or a JavaScript MIME type is classic, "module" a module, the rest data', () => {
    const kind = (tag: string) => scriptKind(tagAttributes(tag));
    expect(kind('')).toBe('classic');
    expect(kind(' type=""')).toBe('classic');
    expect(kind(' type="text/javascript"')).toBe('classic');
    expect(kind(' type="Application/ECMAScript "')).toBe('classic');
    expect(kind(' language="JavaScript"')).toBe('classic');
    expect(kind(' language="vbscript"')).toBe('other');
    expect(kind(' type="module"')).toBe('module');
    expect(kind(' type="text/plain"')).toBe('other');
    expect(kind(' type="importmap"')).toBe('other');
  });
});
