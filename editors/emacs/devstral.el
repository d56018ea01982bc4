;;; devstral.el --- Devstral Small in Emacs through eglot and devstral-lsp  -*- lexical-binding: t; -*-

;; Usage (init.el):
;;   (add-to-list 'load-path "/path/to/devstral-lsp/editors/emacs")
;;   (require 'devstral)
;;   (devstral-setup)                       ; registers devstral-lsp with eglot
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Then: M-x completion-at-point (or company/corfu) for suggestions, M-x eglot-code-actions for
;; "Fix with Devstral", "Add docstring", ..., M-x devstral-rewrite on a region and
;; M-x devstral-edit-workspace for an edit across files.  Works with eglot 1.9 (Debian's
;; elpa-eglot, Emacs 28) and the eglot built into Emacs 29+.

;;; Code:

(require 'eglot)
(require 'project)
(require 'cl-lib)
(require 'subr-x)

(defgroup devstral nil
  "Devstral Small through the devstral-lsp language server."
  :group 'tools
  :prefix "devstral-")

(defcustom devstral-server-command '("devstral-lsp")
  "Command that starts devstral-lsp over stdio.
Add \"--log-file\" \"/tmp/devstral.log\" \"-v\" to debug."
  :type '(repeat string))

(defcustom devstral-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    tsx-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode c-mode c-ts-mode c++-mode
    c++-ts-mode java-mode java-ts-mode ruby-mode ruby-ts-mode sh-mode bash-ts-mode
    lua-mode emacs-lisp-mode)
  "Major modes whose buffers eglot connects to devstral-lsp.
eglot manages a buffer with one server, so a mode listed here uses devstral-lsp
instead of its usual language server."
  :type '(repeat symbol))

(defcustom devstral-initialization-options nil
  "Server settings sent as initializationOptions, a plist with camelCase keys.
For example (:provider \"ollama\" :model \"devstral\" :completionItems \"always\").
Keep the API key in the environment (MISTRAL_API_KEY or DEVSTRAL_API_KEY)."
  :type 'plist)

(defcustom devstral-command-timeout 300
  "Seconds to wait for a Devstral command (code action, rewrite, edit across files).
The command runs in the background: Emacs never waits for the model, and the edit
arrives by itself as a workspace edit (`eglot-confirm-server-initiated-edits'
decides whether eglot asks before applying it)."
  :type 'number)

(defclass devstral-eglot-server (eglot-lsp-server) ()
  "eglot's server class for devstral-lsp: commands run asynchronously.")

(defun devstral--contact ()
  "The eglot contact for devstral-lsp."
  (cons 'devstral-eglot-server
        (append devstral-server-command
                (when devstral-initialization-options
                  (list :initializationOptions devstral-initialization-options)))))

;; eglot sends workspace/executeCommand synchronously and gives up after
;; `jsonrpc-default-request-timeout' (10 s), freezing Emacs meanwhile; a model can take
;; longer.  The server answers a command when its edit is applied (it sends the edit with
;; workspace/applyEdit first), so nothing waits for that answer here.
(cl-defmethod eglot-execute-command ((server devstral-eglot-server) command arguments)
  "Run COMMAND with ARGUMENTS on SERVER without waiting for the model."
  (let ((name (format "%s" command)))
    (message "Devstral: %s running in the background..." name)
    (jsonrpc-async-request
     server :workspace/executeCommand `(:command ,name :arguments ,arguments)
     :success-fn (lambda (result)
                   (let ((summary (and (listp result) (plist-get result :summary))))
                     (message "Devstral: %s done%s" name
                              (if (and (stringp summary) (not (string-empty-p summary)))
                                  (concat ": " summary) ""))))
     :error-fn (lambda (err)
                 (message "Devstral: %s failed: %s" name
                          (or (and (listp err) (plist-get err :message)) err)))
     :timeout devstral-command-timeout
     :timeout-fn (lambda ()
                   (message "Devstral: %s gave no answer in %ss (see M-x devstral-show-log)"
                            name devstral-command-timeout)))
    nil))

(defun devstral--code-actions-at-point (orig beg &optional end action-kind interactive)
  "Without an active region, ask ORIG for the actions at point, not around a sexp.
eglot otherwise sends the bounds of the sexp at point, so the server offers actions
on a selection (\"Rewrite selection…\") the user never made."
  (if (and interactive (not (use-region-p))
           (cl-typep (eglot-current-server) 'devstral-eglot-server))
      (funcall orig (point) (point) action-kind interactive)
    (funcall orig beg end action-kind interactive)))

;;;###autoload
(defun devstral-setup ()
  "Register devstral-lsp with eglot for `devstral-modes'."
  (interactive)
  (setq eglot-server-programs
        (cl-remove-if (lambda (entry) (eq (cdr entry) #'devstral--contact-function))
                      eglot-server-programs))
  (push (cons devstral-modes #'devstral--contact-function) eglot-server-programs)
  (advice-add 'eglot-code-actions :around #'devstral--code-actions-at-point))

(defun devstral--contact-function (&optional _interactive)
  "Contact function for `eglot-server-programs'."
  (devstral--contact))

(defun devstral--server ()
  (or (eglot-current-server)
      (user-error "No eglot server here: M-x eglot first")))

(defun devstral--range (beg end)
  (list :start (eglot--pos-to-lsp-position beg)
        :end (eglot--pos-to-lsp-position end)))

(defun devstral--execute (command argument)
  "Ask the server to run COMMAND with the single ARGUMENT (a plist)."
  (eglot-execute-command (devstral--server) command (vector argument)))

;;;###autoload
(defun devstral-rewrite (beg end instruction)
  "Rewrite the region (or the current line) between BEG and END by INSTRUCTION."
  (interactive
   (let ((bounds (if (use-region-p)
                     (list (region-beginning) (region-end))
                   (list (line-beginning-position) (line-end-position)))))
     (append bounds (list (read-string "Devstral rewrite: ")))))
  (devstral--execute 'devstral.rewrite
                     (list :uri (eglot--path-to-uri (buffer-file-name))
                           :range (devstral--range beg end)
                           :instruction instruction)))

;;;###autoload
(defun devstral-edit-workspace (instruction)
  "Ask Devstral for an edit across files by INSTRUCTION; applied as one workspace edit."
  (interactive (list (read-string "Devstral edit (across files): ")))
  (devstral--execute 'devstral.editWorkspace
                     (append (list :instruction instruction)
                             (when (buffer-file-name)
                               (list :uri (eglot--path-to-uri (buffer-file-name))))
                             (when (use-region-p)
                               (list :range (devstral--range (region-beginning)
                                                             (region-end)))))))

;;;###autoload
(defun devstral-show-log ()
  "Show the eglot events buffer (the server's log messages and the LSP traffic)."
  (interactive)
  (eglot-events-buffer (devstral--server)))

(provide 'devstral)
;;; devstral.el ends here
