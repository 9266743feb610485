import { useCallback, useEffect, useState, type ReactNode } from 'react';
import type { Window } from './api';
import { ThemeContext, useTheme } from './theme';
import { LiveStatus } from './components/LiveFeed';
import { SearchBox } from './components/SearchBox';
import { Overview } from './tabs/Overview';
import { Agents } from './tabs/Agents';
import { Utilization } from './tabs/Utilization';
import { Optimization } from './tabs/Optimization';

const TABS = [
  { id: 'overview', label: 'System Overview', short: 'Overview' },
  { id: 'agents', label: 'Agents', short: 'Agents' },
  { id: 'utilization', label: 'Utilization', short: 'Utilization' },
  { id: 'optimization', label: 'Optimization', short: 'Optimize' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/** The location hash keeps the tab (and the selected agent): #agents/<agentId>. */
function fromHash(): { tab: TabId; agent: string | null } {
  const [t, a] = window.location.hash.replace(/^#\/?/, '').split('/');
  const tab = (TABS.find((x) => x.id === t)?.id ?? 'overview') as TabId;
  return { tab, agent: tab === 'agents' && a ? decodeURIComponent(a) : null };
}

export function App() {
  const [theme, toggleTheme] = useTheme();
  const [route, setRoute] = useState(fromHash);
  const [agent, setAgent] = useState<string | null>(route.agent);
  const [window_, setWindow] = useState<Window>('1h');

  useEffect(() => {
    const on = () => { const r = fromHash(); setRoute(r); if (r.agent) setAgent(r.agent); };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);

  const go = useCallback((tab: TabId, a: string | null = null) => {
    const hash = `#${tab}${tab === 'agents' && a ? `/${encodeURIComponent(a)}` : ''}`;
    if (window.location.hash !== hash) history.replaceState(null, '', hash);
    setRoute({ tab, agent: a });
  }, []);
  const select = useCallback((a: string | null) => { setAgent(a); go('agents', a); }, [go]);

  const panels: Record<TabId, () => ReactNode> = {
    overview: () => <Overview window={window_} setWindow={setWindow} />,
    agents: () => <Agents selected={agent} onSelect={select} />,
    utilization: () => <Utilization />,
    optimization: () => <Optimization />,
  };

  return (
    <ThemeContext.Provider value={theme}>
      <header className="app-header">
        <div className="brand-row">
          <a className="brand" href="#overview" onClick={(e) => { e.preventDefault(); go('overview'); }}>
            <span className="logo" aria-hidden="true">◆</span> farmbrain <span className="brand-sub">Memory Analytics</span>
          </a>
          <div className="header-tools">
            <LiveStatus />
            <button className="btn btn-small btn-ghost theme-toggle" data-testid="theme-toggle" onClick={toggleTheme}
              aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`} title={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
              {theme === 'dark' ? '☀' : '☾'}
            </button>
          </div>
        </div>
        <SearchBox preferred={agent} />
        <nav className="tabs" role="tablist" aria-label="Views">
          {TABS.map((t) => (
            <button key={t.id} role="tab" id={`tab-${t.id}`} data-testid={`tab-${t.id}`} aria-selected={route.tab === t.id} aria-controls={`panel-${t.id}`}
              aria-label={t.label} className={route.tab === t.id ? 'tab on' : 'tab'} onClick={() => go(t.id, t.id === 'agents' ? agent : null)}>
              <span className="tab-long">{t.label}</span><span className="tab-short">{t.short}</span>
            </button>
          ))}
        </nav>
      </header>
      <main className="app-main" id={`panel-${route.tab}`} role="tabpanel" aria-labelledby={`tab-${route.tab}`}
        data-testid={`panel-${route.tab}`} {...(route.tab === 'overview' ? { 'data-window': window_ } : {})}>
        {panels[route.tab]()}
      </main>
      <footer className="app-footer muted small">
        farmbrain · data from this gateway only · <a href="/docs" target="_blank" rel="noreferrer">API</a>
      </footer>
    </ThemeContext.Provider>
  );
}
