import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AgentMemoryProvider } from '@farmbrain/react';
import { App } from './App';
import { FeedProvider } from './feed';
import './styles.css';

const storage = (() => { try { return window.localStorage; } catch { return undefined; } })();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AgentMemoryProvider baseUrl="" storage={storage} storageKey="farmbrain">
      <FeedProvider>
        <App />
      </FeedProvider>
    </AgentMemoryProvider>
  </StrictMode>,
);
