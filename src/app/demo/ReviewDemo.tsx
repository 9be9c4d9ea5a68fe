import { useEffect, useState } from 'react';
import type { PersistentSyncEngine } from '../../engine/index.ts';
import { useLiveQueryState, useSyncState } from '../../engine/react/hooks.ts';
import { openBrowserEngine } from './open-engine.ts';

const REVIEW = 'pr-1';

/** Holds the one-writer lock for this origin: a second tab waits instead of opening a second writer. */
function useEngine(): { engine: PersistentSyncEngine | null; waiting: boolean; error: string | null } {
  const [engine, setEngine] = useState<PersistentSyncEngine | null>(null);
  const [waiting, setWaiting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let release: () => void = () => {};
    let closed = false;
    const held = new Promise<void>((r) => (release = r));
    const run = async () => {
      const opened = await openBrowserEngine();
      if (closed) return opened.close();
      setEngine(opened.engine);
      // A move to a new client group (the token was lost) swaps the engine.
      opened.onEngineChange(setEngine);
      setWaiting(false);
      await held;
      await opened.close();
    };
    navigator.locks
      .request('lockstep-demo-db', { ifAvailable: true }, async (lock) => {
        if (lock) return run();
        setWaiting(true);
        // Another tab owns the database: wait for it to close, then take over.
        return navigator.locks.request('lockstep-demo-db', run);
      })
      .catch((e: Error) => setError(e.message));
    return () => {
      closed = true;
      release();
    };
  }, []);
  return { engine, waiting, error };
}

export function ReviewDemo() {
  const { engine, waiting, error } = useEngine();
  const state = useSyncState(engine);
  const reviews = useLiveQueryState(engine, { type: 'review', id: REVIEW });
  const commentsQuery = useLiveQueryState(engine, { type: 'comment', where: { review: REVIEW }, orderBy: { field: 'at' } });
  const comments = commentsQuery.rows;
  // Until the review's query answers, its buttons wait: a write from defaults would reset its votes.
  const reviewLoading = reviews.status === 'loading';
  const [draft, setDraft] = useState('');
  const [editing, setEditing] = useState<{ id: string; body: string } | null>(null);
  const review = reviews.rows[0]?.data as { title?: string; status?: string; votes?: number } | undefined;

  if (error) return <p role="alert">Could not open the local database: {error}</p>;
  if (waiting) return <p id="waiting">This demo is open in another tab, which owns the local database. Close it to continue here.</p>;
  if (!engine || !state) return <p id="loading">Opening the local database…</p>;

  const setStatus = (status: string) => engine.upsert('review', REVIEW, { title: review?.title ?? 'Add the sync engine', votes: review?.votes ?? 0, status });
  const addComment = async () => {
    if (!draft.trim()) return;
    const id = `${engine.clientID}-${Date.now().toString(36)}`;
    await engine.upsert('comment', id, { review: REVIEW, body: draft.trim(), by: engine.clientID.slice(0, 8), at: Date.now() });
    setDraft('');
  };

  return (
    <main style={{ font: '15px/1.5 system-ui, sans-serif', maxWidth: 720, margin: '24px auto', padding: '0 16px' }}>
      <header style={{ display: 'flex', gap: 16, alignItems: 'center', padding: 8, background: '#f4f4f6', borderRadius: 6 }} id="status">
        <span id="online" style={{ color: state.online ? '#2a9d3a' : '#b00' }}>{state.online ? '● online' : '○ offline'}</span>
        <span>pending: <b id="pending">{state.pendingCount}</b></span>
        <span>synced version: <b id="version">{state.lastSyncedVersion ?? '–'}</b></span>
        <label style={{ marginLeft: 'auto' }}>
          <input id="offline-switch" type="checkbox" checked={!state.online} onChange={(e) => {
            localStorage.setItem('lockstep-offline', e.target.checked ? '1' : '0');
            void engine.setOnline(!e.target.checked);
          }} /> work offline
        </label>
      </header>
      <h1 id="title">{review?.title ?? 'Add the sync engine'} <small style={{ color: '#666' }}>#{REVIEW}</small></h1>
      <p>
        Status: <b id="review-status">{review?.status ?? 'open'}</b> · Votes: <b id="votes">{review?.votes ?? 0}</b>{' '}
        <button id="vote" disabled={reviewLoading} onClick={() => engine.increment('review', REVIEW, 'votes', 1)}>+1</button>{' '}
        <button id="approve" disabled={reviewLoading} onClick={() => setStatus('approved')}>Approve</button>{' '}
        <button id="request-changes" disabled={reviewLoading} onClick={() => setStatus('changes requested')}>Request changes</button>
      </p>
      <h2>Comments</h2>
      <ul id="comments" style={{ paddingLeft: 18 }} data-status={commentsQuery.status}>
        {commentsQuery.status === 'loading' && <li id="comments-loading">Loading comments…</li>}
        {commentsQuery.status === 'ready' && comments.length === 0 && <li id="no-comments">No comments yet.</li>}
        {comments.map((c) => {
          const d = c.data as { body: string; by: string };
          return (
            <li key={c.id} className="comment" data-id={c.id}>
              {editing?.id === c.id ? (
                <>
                  <input className="edit-input" value={editing.body} onChange={(e) => setEditing({ id: c.id, body: e.target.value })} />
                  <button className="save" onClick={async () => { await engine.upsert('comment', c.id, { ...c.data, body: editing.body }); setEditing(null); }}>Save</button>
                </>
              ) : (
                <>
                  <span className="body">{d.body}</span> <small style={{ color: '#888' }}>— {d.by}</small>{' '}
                  <button className="edit" onClick={() => setEditing({ id: c.id, body: d.body })}>Edit</button>{' '}
                  <button className="delete" onClick={() => engine.delete('comment', c.id)}>Delete</button>
                </>
              )}
            </li>
          );
        })}
      </ul>
      <p>
        <input id="new-comment" value={draft} placeholder="Write a comment" onChange={(e) => setDraft(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && addComment()} />{' '}
        <button id="add-comment" onClick={addComment}>Comment</button>
      </p>
      {(reviews.error ?? commentsQuery.error) && <p id="query-error" style={{ color: '#b00' }}>Could not read the local database: {(reviews.error ?? commentsQuery.error)!.message}</p>}
      {state.lastError && <p id="sync-error" style={{ color: '#b60' }}>Last sync error: {state.lastError}</p>}
    </main>
  );
}
