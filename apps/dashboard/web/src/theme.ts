import { createContext, useCallback, useContext, useEffect, useState } from 'react';

export type Theme = 'dark' | 'light';
const KEY = 'farmbrain.theme';

/** The stored choice, else the system's preference. index.html applies the same rule before the first paint. */
export function initialTheme(): Theme {
  try {
    const s = localStorage.getItem(KEY);
    if (s === 'dark' || s === 'light') return s;
  } catch { /* storage blocked */ }
  return window.matchMedia?.('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
}

/**
 * `<html data-theme>` plus a toggle kept in localStorage; follows the system until the user chooses.
 * The attribute is set before the state changes, so children (charts reading the theme's CSS
 * variables in their effects, which run before their parents') already see the new theme.
 */
export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const apply = useCallback((t: Theme) => { document.documentElement.dataset.theme = t; setTheme(t); }, []);
  useEffect(() => { document.documentElement.dataset.theme = theme; }, [theme]);
  useEffect(() => {
    const mq = window.matchMedia?.('(prefers-color-scheme: light)');
    if (!mq) return;
    const on = () => { try { if (localStorage.getItem(KEY)) return; } catch { /* */ } apply(mq.matches ? 'light' : 'dark'); };
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, [apply]);
  const toggle = useCallback(() => {
    const next: Theme = document.documentElement.dataset.theme === 'light' ? 'dark' : 'light';
    try { localStorage.setItem(KEY, next); } catch { /* */ }
    apply(next);
  }, [apply]);
  return [theme, toggle];
}

export const ThemeContext = createContext<Theme>('dark');
export const useThemeName = () => useContext(ThemeContext);
