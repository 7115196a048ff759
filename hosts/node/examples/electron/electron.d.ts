/**
 * Hand-written type declarations for the parts of Electron's main-process and preload
 * API that main.ts and preload.ts use. Why not the real ones: Electron ships its types
 * inside the `electron` npm package, whose install script downloads the Electron binary
 * (these machines cannot), and `@types/electron` is a deprecated empty stub. The
 * signatures follow Electron's own `electron.d.ts` (checked against electron@45's by
 * compiling this example against it once, see docs/NODE.md), with `unknown` where
 * Electron says `any`, so code that compiles here compiles against the real types too.
 */

declare module "electron" {
  interface Event {
    preventDefault(): void;
  }

  interface WebContents {
    send(channel: string, ...args: unknown[]): void;
    isDestroyed(): boolean;
  }

  interface WebPreferences {
    preload?: string;
    contextIsolation?: boolean;
    nodeIntegration?: boolean;
    sandbox?: boolean;
  }

  interface BrowserWindowConstructorOptions {
    width?: number;
    height?: number;
    title?: string;
    webPreferences?: WebPreferences;
  }

  class BrowserWindow {
    constructor(options?: BrowserWindowConstructorOptions);
    readonly webContents: WebContents;
    loadFile(filePath: string): Promise<void>;
    isDestroyed(): boolean;
  }

  interface App {
    readonly isPackaged: boolean;
    getPath(name: "home" | "appData" | "userData" | "sessionData" | "temp" | "logs"): string;
    whenReady(): Promise<void>;
    on(event: "before-quit", listener: (event: Event) => void): this;
    on(event: "window-all-closed", listener: () => void): this;
    quit(): void;
    exit(exitCode?: number): void;
  }

  interface IpcMainInvokeEvent {
    readonly sender: WebContents;
  }

  interface IpcMain {
    handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown> | unknown): void;
    removeHandler(channel: string): void;
  }

  interface IpcRendererEvent {
    readonly sender: unknown;
  }

  interface IpcRenderer {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): this;
    removeListener(channel: string, listener: (...args: unknown[]) => void): this;
  }

  interface ContextBridge {
    exposeInMainWorld(apiKey: string, api: unknown): void;
  }

  interface OpenDialogOptions {
    title?: string;
    properties?: ("openFile" | "openDirectory" | "multiSelections")[];
  }

  interface OpenDialogReturnValue {
    canceled: boolean;
    filePaths: string[];
  }

  interface Dialog {
    showOpenDialog(window: BrowserWindow, options: OpenDialogOptions): Promise<OpenDialogReturnValue>;
  }

  const app: App;
  const ipcMain: IpcMain;
  const ipcRenderer: IpcRenderer;
  const contextBridge: ContextBridge;
  const dialog: Dialog;
}

declare namespace NodeJS {
  interface Process {
    /** Electron: the folder holding app.asar and the extraResources (Contents/Resources on macOS). */
    readonly resourcesPath: string;
  }
}
