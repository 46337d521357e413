import { useLayoutEffect, useRef } from 'react';
import type { DialplanLanguage } from '../api/index.ts';
import { monaco, VIEW_LANGUAGE } from './monaco.ts';

/** Monaco's side-by-side diff of two versions, read-only. */
export function DiffView({ original, modified, language, label }: { original: string; modified: string; language: DialplanLanguage; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  // Layout effect: disposed while still attached (see CodeEditor).
  useLayoutEffect(() => {
    if (!host.current) return;
    const left = monaco.editor.createModel(original, VIEW_LANGUAGE[language]);
    const right = monaco.editor.createModel(modified, VIEW_LANGUAGE[language]);
    const editor = monaco.editor.createDiffEditor(host.current, {
      readOnly: true,
      automaticLayout: true,
      renderSideBySide: true,
      minimap: { enabled: false },
      scrollBeyondLastLine: false,
      originalAriaLabel: `${label}: older version`,
      modifiedAriaLabel: `${label}: newer version`,
    });
    editor.setModel({ original: left, modified: right });
    return () => {
      editor.dispose();
      left.dispose();
      right.dispose();
    };
  }, [original, modified, language, label]);
  return <div ref={host} className="diff-editor" data-testid="diff-editor" />;
}
