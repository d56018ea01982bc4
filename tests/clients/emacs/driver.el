;;; driver.el --- headless Emacs + eglot test driver  -*- lexical-binding: t; -*-
;; emacs --batch -Q -l driver.el, with DEVSTRAL_TEST_* in the environment (see test_emacs.py).
;; Loads editors/emacs/devstral.el, opens a file of a git workspace, connects eglot on
;; (project-current), runs one scenario and writes what it saw to $DEVSTRAL_TEST_OUT as JSON.

(require 'package)
(setq package-directory-list
      (append (list "/usr/share/emacs/site-lisp/elpa") package-directory-list)
      package-user-dir (expand-file-name "elpa" (getenv "HOME")))
(package-initialize)
(require 'json)
(require 'cl-lib)
(require 'eglot)

(defvar dt-out (getenv "DEVSTRAL_TEST_OUT"))
(defvar dt-result nil)
(defvar dt-done nil)

(defun dt-put (key value) (push (cons key value) dt-result))

(defvar dt-server-state nil
  "The `state' of the last `devstral/status' notification from the server.")

(cl-defmethod eglot-handle-notification
  (_server (_method (eql devstral/status)) &key state &allow-other-keys)
  (setq dt-server-state state))

(defun dt-finish (ok &optional err)
  (unless dt-done
    (setq dt-done t)
    (dt-put 'ok (if ok t :json-false))
    (when err (dt-put 'error err))
    (dt-put 'text (buffer-substring-no-properties (point-min) (point-max)))
    (dt-put 'messages (with-current-buffer (messages-buffer)
                        (buffer-substring-no-properties (point-min) (point-max))))
    (let ((server (ignore-errors (eglot-current-server))))
      (when server
        (with-current-buffer (jsonrpc-events-buffer server)
          (dt-put 'events (let ((s (buffer-substring-no-properties (point-min) (point-max))))
                            (substring s (max 0 (- (length s) 6000))))))))
    (let ((coding-system-for-write 'utf-8))
      (with-temp-file dt-out (insert (json-encode dt-result))))
    (kill-emacs 0)))

(run-at-time (string-to-number (or (getenv "DEVSTRAL_TEST_WATCHDOG_S") "45")) nil
             (lambda () (dt-finish nil "driver watchdog: the scenario did not finish in time")))

(defun dt-wait (pred seconds what)
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall pred))
      (when (> (float-time) deadline)
        (error "timed out waiting for %s" what))
      (accept-process-output nil 0.05))))

(defun dt-goto-line-end (line)
  (goto-char (point-min))
  (forward-line (1- line))
  (end-of-line))

(defun dt-connect ()
  (require 'eglot)
  (load (expand-file-name "editors/emacs/devstral.el" (getenv "DEVSTRAL_TEST_REPO")))
  (setq devstral-server-command (json-read-from-string (getenv "DEVSTRAL_TEST_SERVER_CMD"))
        devstral-server-command (append devstral-server-command nil)
        eglot-confirm-server-initiated-edits nil
        eglot-sync-connect t
        eglot-connect-timeout 30
        completion-styles '(basic)
        completion-cycle-threshold nil)
  (devstral-setup)
  (find-file (getenv "DEVSTRAL_TEST_FILE"))
  (dt-put 'project (format "%S" (project-current)))
  ;; eglot in a git workspace manages the buffer only when started on (project-current).
  (apply #'eglot (eglot--guess-contact))
  (dt-wait (lambda () (and (eglot-current-server) (bound-and-true-p eglot--managed-mode)))
           30 "eglot to manage the buffer")
  ;; The server answers `initialize' before it has even loaded (lsp_server/bootstrap.py), and
  ;; says `devstral/status' once it has its settings. A scenario that starts earlier races the
  ;; server's start-up: on a loaded machine its first request (a synchronous one, which eglot
  ;; gives up on after `jsonrpc-default-request-timeout') waits for the imports too.
  (dt-wait (lambda () dt-server-state) 60 "the server's first devstral/status")
  (dt-put 'server_state dt-server-state)
  (dt-put 'managed t))

(defun dt-scenario-completion ()
  (dt-goto-line-end (string-to-number (getenv "DEVSTRAL_TEST_ROW")))
  (let ((capf (eglot-completion-at-point)))
    (dt-put 'candidates (and capf (all-completions "" (nth 2 capf)))))
  (completion-at-point)
  (dt-put 'line (buffer-substring-no-properties (line-beginning-position) (line-end-position))))

(defun dt-scenario-code-action ()
  (dt-goto-line-end (string-to-number (getenv "DEVSTRAL_TEST_ROW")))
  (let* ((want (getenv "DEVSTRAL_TEST_ACTION"))
         (tick (buffer-modified-tick))
         (titles nil)
         ;; a non-list event: eglot asks with completing-read instead of a popup menu
         (last-nonmenu-event 0))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq titles (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                 (or (cl-find-if (lambda (title) (string-match-p (regexp-quote want) title))
                                 titles)
                     (error "no code action matching %s in %S" want titles))))
              ((symbol-function 'read-string)
               (lambda (&rest _) (or (getenv "DEVSTRAL_TEST_INSTRUCTION") "do it"))))
      (eglot-code-actions (line-beginning-position) (line-end-position) nil t))
    (dt-put 'titles (vconcat titles))
    (dt-wait (lambda () (/= tick (buffer-modified-tick))) 20 "the code action edit")
    (accept-process-output nil 0.2)))

;; M-x devstral-rewrite on the current line, the instruction given directly; the server's edit
;; arrives as workspace/applyEdit.
(defun dt-scenario-rewrite ()
  (goto-char (point-min))
  (let ((tick (buffer-modified-tick)))
    (devstral-rewrite (point-min)
                      (save-excursion (forward-line 1) (line-end-position))
                      (getenv "DEVSTRAL_TEST_INSTRUCTION"))
    (dt-wait (lambda () (/= tick (buffer-modified-tick))) 20 "the rewrite edit")
    (accept-process-output nil 0.2)))

;; Item 14: a code action whose model answer takes longer than eglot waits for a request
;; (`jsonrpc-default-request-timeout', lowered here so the test is short).  The command must
;; return before the edit exists, without an error, and the edit must arrive by itself.
(defun dt-scenario-slow-action ()
  (dt-goto-line-end (string-to-number (getenv "DEVSTRAL_TEST_ROW")))
  ;; The first code-action list loads the server's action modules (about a second on a loaded
  ;; machine): list once under the default timeout, so the lowered one below times only what
  ;; this scenario is about, that running an action never holds Emacs while the model works.
  (jsonrpc-request (eglot--current-server-or-lose) :textDocument/codeAction
                   (list :textDocument (eglot--TextDocumentIdentifier)
                         :range (list :start (eglot--pos-to-lsp-position)
                                      :end (eglot--pos-to-lsp-position))
                         :context (list :diagnostics [])))
  (setq jsonrpc-default-request-timeout
        (string-to-number (or (getenv "DEVSTRAL_TEST_JSONRPC_TIMEOUT") "10")))
  (let ((tick (buffer-modified-tick))
        (want (getenv "DEVSTRAL_TEST_ACTION"))
        (last-nonmenu-event 0))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (cl-find-if (lambda (title) (string-match-p (regexp-quote want) title))
                             (mapcar (lambda (c) (if (consp c) (car c) c)) collection)))))
      (eglot-code-actions (point) nil nil t))
    (dt-put 'returned_before_edit (if (= tick (buffer-modified-tick)) t :json-false))
    ;; The user goes on typing elsewhere meanwhile.
    (with-current-buffer (get-buffer-create "*notes*") (insert "typed meanwhile"))
    (dt-wait (lambda () (/= tick (buffer-modified-tick))) 60 "the edit to arrive")
    (accept-process-output nil 0.2)
    (dt-put 'notes (with-current-buffer "*notes*" (buffer-string)))))

;; Item 15: without a region, the picker lists no selection actions.
(defun dt-scenario-picker-titles ()
  (dt-goto-line-end (string-to-number (getenv "DEVSTRAL_TEST_ROW")))
  (backward-word)
  (deactivate-mark)
  (let ((titles nil) (last-nonmenu-event 0))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq titles (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                 (keyboard-quit))))
      (condition-case nil
          (call-interactively #'eglot-code-actions)
        (quit nil)))
    (dt-put 'titles (vconcat titles))))

(condition-case err
    (progn
      (dt-connect)
      (funcall (intern (concat "dt-scenario-" (getenv "DEVSTRAL_TEST_SCENARIO"))))
      (dt-finish t))
  (t (dt-finish nil (format "%S" err))))
