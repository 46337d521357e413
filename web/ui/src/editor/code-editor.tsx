import { useEffect, useLayoutEffect, useRef } from 'react';
import type { CompileError, DialplanLanguage } from '../api/index.ts';
import { monaco } from './monaco.ts';

export interface CursorPosition {
  line: number;
  column: number;
}

interface CodeEditorProps {
  /** Identifies the model; one per dialplan so its TypeScript diagnostics stand alone. */
  name: string;
  language: DialplanLanguage;
  initialValue: string;
  compileErrors: CompileError[];
  onChange(value: string): void;
  onSave(): void;
  onCursor(position: CursorPosition): void;
  /** Lets the page move the cursor to a compile error. */
  revealRef?: { current: ((line: number, column: number) => void) | null };
}

const COMPILE_OWNER = 'patchbay-compile';

function modelUri(name: string, language: DialplanLanguage): monaco.Uri {
  return monaco.Uri.parse(`file:///dialplans/${encodeURIComponent(name)}.${language}`);
}

export function CodeEditor({ name, language, initialValue, compileErrors, onChange, onSave, onCursor, revealRef }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const editorRef = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const callbacks = useRef({ onChange, onSave, onCursor });
  callbacks.current = { onChange, onSave, onCursor };

  // A layout effect, so the editor is disposed while its DOM is still attached: disposing after
  // React detached a focused editor lets the late blur reach an already disposed context-key
  // service ("AbstractContextKeyService has been disposed").
  useLayoutEffect(() => {
    if (!host.current) return;
    const uri = modelUri(name, language);
    monaco.editor.getModel(uri)?.dispose();
    const model = monaco.editor.createModel(initialValue, language === 'ts' ? 'typescript' : 'javascript', uri);
    const editor = monaco.editor.create(host.current, {
      model,
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 14,
      scrollBeyondLastLine: false,
      tabSize: 2,
      fixedOverflowWidgets: true,
      ariaLabel: `Dialplan ${name} source`,
    });
    editorRef.current = editor;
    const subscriptions = [
      model.onDidChangeContent(() => {
        // Compile markers describe the last saved attempt; once edited they would point at the wrong place.
        monaco.editor.setModelMarkers(model, COMPILE_OWNER, []);
        callbacks.current.onChange(model.getValue());
      }),
      editor.onDidChangeCursorPosition((event) =>
        callbacks.current.onCursor({ line: event.position.lineNumber, column: event.position.column }),
      ),
    ];
    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, () => callbacks.current.onSave());
    if (revealRef) {
      revealRef.current = (line, column) => {
        editor.setPosition({ lineNumber: line, column });
        editor.revealPositionInCenter({ lineNumber: line, column });
        editor.focus();
      };
    }
    const hostElement = host.current;
    return () => {
      if (revealRef) revealRef.current = null;
      for (const subscription of subscriptions) subscription.dispose();
      if (document.activeElement instanceof HTMLElement && hostElement.contains(document.activeElement)) document.activeElement.blur();
      editor.dispose();
      model.dispose();
      editorRef.current = null;
    };
    // The editor is created once per dialplan; later value changes come from typing.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name, language]);

  useEffect(() => {
    const model = editorRef.current?.getModel();
    if (!model) return;
    monaco.editor.setModelMarkers(
      model,
      COMPILE_OWNER,
      compileErrors.map((error) => {
        const line = Math.min(Math.max(1, error.line), model.getLineCount());
        const column = Math.min(Math.max(1, error.column), model.getLineMaxColumn(line));
        const word = model.getWordAtPosition({ lineNumber: line, column });
        return {
          severity: monaco.MarkerSeverity.Error,
          message: error.message,
          source: 'save',
          startLineNumber: line,
          startColumn: column,
          endLineNumber: line,
          endColumn: word && word.startColumn <= column ? word.endColumn : Math.min(column + 1, model.getLineMaxColumn(line)),
        };
      }),
    );
  }, [compileErrors]);

  return <div ref={host} className="code-editor" data-testid="code-editor" />;
}
